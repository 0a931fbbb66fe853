#!/bin/sh
# Entry point of the dev Kafka image: a single-node KRaft broker+controller.
# Formats its storage on first start, then runs the broker in the
# foreground. KAFKA_ADVERTISED_HOST (default: this host's first address) is
# the name clients reach it by; KAFKA_PORT (9092) and KAFKA_CONTROLLER_PORT
# (9093); KAFKA_HEAP_OPTS (default -Xms256m -Xmx512m).
set -eu
DATA=/var/lib/kafka
PORT="${KAFKA_PORT:-9092}"
CPORT="${KAFKA_CONTROLLER_PORT:-9093}"
HOST="${KAFKA_ADVERTISED_HOST:-$(hostname -i | cut -d' ' -f1)}"
CONF="$DATA/server.properties"
cat >"$CONF" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CPORT
listeners=PLAINTEXT://0.0.0.0:$PORT,CONTROLLER://127.0.0.1:$CPORT
advertised.listeners=PLAINTEXT://$HOST:$PORT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
log.dirs=$DATA/data
num.partitions=6
default.replication.factor=1
min.insync.replicas=1
auto.create.topics.enable=false
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
PROPS
cat >"$DATA/log4j.properties" <<PROPS
log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.state.change.logger=WARN
PROPS
LOG="-Dlog4j.configuration=file:$DATA/log4j.properties"
CP='/opt/kafka/libs/*'
if [ ! -f "$DATA/data/meta.properties" ]; then
  java -Xmx256m "$LOG" -cp "$CP" kafka.tools.StorageTool format \
    -t "$(java -cp "$CP" kafka.tools.StorageTool random-uuid)" -c "$CONF"
fi
# shellcheck disable=SC2086
exec java ${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m} -XX:+UseG1GC \
  -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true "$LOG" \
  -cp "$CP" kafka.Kafka "$CONF"
