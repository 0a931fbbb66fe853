// Where the Kafka broker's time goes, from the broker JVM itself (attach API,
// local only): `java bench/KafkaRequests.java PID` prints one line per
// counter, cumulative since the broker started, for bench/broker_cpu.py to
// diff:
//   requests <type> <count>       kafka.network RequestMetrics RequestsPerSec
//   handler-ms <type> <ms>        the same requests' time in the API handler
//                                 (LocalTimeMs, Count x Mean)
//   messages-in <count>           BrokerTopicMetrics MessagesInPerSec
// Needs the JDK (jdk.attach) and the same user as the broker.
import com.sun.tools.attach.VirtualMachine;
import java.util.Map;
import java.util.TreeMap;
import javax.management.MBeanServerConnection;
import javax.management.ObjectName;
import javax.management.remote.JMXConnector;
import javax.management.remote.JMXConnectorFactory;
import javax.management.remote.JMXServiceURL;

public class KafkaRequests {
  public static void main(String[] args) throws Exception {
    if (args.length != 1) {
      System.err.println("usage: java KafkaRequests.java BROKER_PID");
      System.exit(2);
    }
    VirtualMachine vm = VirtualMachine.attach(args[0]);
    String url = vm.startLocalManagementAgent();
    vm.detach();
    try (JMXConnector c = JMXConnectorFactory.connect(new JMXServiceURL(url))) {
      MBeanServerConnection s = c.getMBeanServerConnection();
      Map<String, Long> requests = new TreeMap<>();
      Map<String, Double> handlerMs = new TreeMap<>();
      for (ObjectName n :
          s.queryNames(
              new ObjectName("kafka.network:type=RequestMetrics,name=RequestsPerSec,*"), null)) {
        long count = ((Number) s.getAttribute(n, "Count")).longValue();
        requests.merge(n.getKeyProperty("request"), count, Long::sum);
      }
      for (ObjectName n :
          s.queryNames(
              new ObjectName("kafka.network:type=RequestMetrics,name=LocalTimeMs,*"), null)) {
        long count = ((Number) s.getAttribute(n, "Count")).longValue();
        double mean = ((Number) s.getAttribute(n, "Mean")).doubleValue();
        handlerMs.merge(n.getKeyProperty("request"), count * mean, Double::sum);
      }
      for (Map.Entry<String, Long> e : requests.entrySet()) {
        System.out.println("requests " + e.getKey() + " " + e.getValue());
      }
      for (Map.Entry<String, Double> e : handlerMs.entrySet()) {
        if (e.getValue() > 0) {
          System.out.printf("handler-ms %s %.3f%n", e.getKey(), e.getValue());
        }
      }
      ObjectName in =
          new ObjectName("kafka.server:type=BrokerTopicMetrics,name=MessagesInPerSec");
      System.out.println(
          "messages-in " + ((Number) s.getAttribute(in, "Count")).longValue());
    }
  }
}
