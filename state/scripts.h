// The Lua scripts that write Rebound's Redis state where one process cannot
// own the keys (the sender's keys are written without scripts:
// state/sender_cache.h). Loaded once per
// connection (SCRIPT LOAD) and run with EVALSHA by RedisClient.
//
// Rules every script keeps:
// - All keys of one call share one hash tag (one Cluster slot).
// - Reads before writes: every key a script writes is read (and so
//   type-checked) before its first write, so an error never leaves an event
//   half applied; a marker, where one is used, is written after the reads.
//   Over maxmemory, Redis fails a script at its first write and lets later
//   ones through, so an OOM never leaves an event half applied either.
//   (No "#!lua" shebang, which would refuse the script up front: it made
//   every call ~25% dearer for the same guarantee.)
// - Idempotent: a replayed event or suggestion version changes nothing.
#ifndef REBOUND_STATE_SCRIPTS_H_
#define REBOUND_STATE_SCRIPTS_H_

namespace rebound::state {

// One event's effects on its recipient's keys.
// KEYS: recipient hash, accept hours, marker (MemberKeys::ReceivedMarker).
// ARGV: kind (sent / accepted / declined), marker ttl (s), occurred_at (s),
//   the recipient's utc offset in minutes from the request ("" unknown).
// Returns 1 applied, 0 counted before.
extern const char kApplyAsRecipientScript[];

// Writes a suggestion version and appends it to the member's stream and,
// given the tenant's stream (standalone Redis only: it is in another slot),
// to the tenant's stream. The version check makes both appends happen once
// per version, with the write, so no marker is needed (on a cluster the
// tenant append is kAppendTenantStreamScript, behind its marker).
// KEYS: suggestion hash, suggestion index, waiting set, pair retries,
//   flags, member stream[, tenant stream].
// ARGV: data, version, created (ms), state name, suggestion id,
//   counts_retry (0/1), waiting (0/1), stream max length, ttl (s) of the
//   member's suggestion keys, most suggestions kept in the index, the
//   tenant stream's max length ("" without the tenant stream), refresh
//   (1: set the TTLs of the member's index, waiting set and flags, whether
//   this call writes them or not; without it only those this call creates
//   get theirs), then the red-flag signal names to count (first version
//   only). A pair's retries get their TTL with every increment.
// Returns the member stream entry id, or "" when this version (or a newer
// one) was written before.
extern const char kPutSuggestionScript[];

// Appends a suggestion version to the tenant's stream, once.
// KEYS: tenant stream, marker (TenantKeys::StreamMarker).
// ARGV: data, marker ttl (s), stream max length.
// Returns the entry id, or "" when appended before.
extern const char kAppendTenantStreamScript[];

// Partition fencing (ScoreStore::Claim). A new owner's generation: above
// every one handed out before.
// KEYS: the counter (FenceGenerationKey).
// ARGV: the clock's ms (the counter is raised to it, so a Redis that lost
// the counter never hands an old generation out again).
// Returns the generation.
extern const char kNextFenceGenerationScript[];
// Sets each field of a fence hash (FenceKey, or its copy in a cluster
// slot) to the generation unless it holds a newer one.
// KEYS: the hash. ARGV: the generation, then the fields (FenceField).
extern const char kRaiseFenceScript[];

}  // namespace rebound::state

#endif  // REBOUND_STATE_SCRIPTS_H_
