#include "state/keys.h"

#include <array>

namespace rebound::state {
namespace {

constexpr std::array<bool, 256> SafeBytes() {
  std::array<bool, 256> safe{};
  for (int c = '0'; c <= '9'; ++c) safe[c] = true;
  for (int c = 'a'; c <= 'z'; ++c) safe[c] = true;
  for (int c = 'A'; c <= 'Z'; ++c) safe[c] = true;
  safe['.'] = safe['_'] = safe['-'] = true;
  return safe;
}
constexpr std::array<bool, 256> kSafe = SafeBytes();

}  // namespace

void AppendEscaped(std::string_view id, std::string* out) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  out->reserve(out->size() + id.size());
  for (unsigned char c : id) {
    if (kSafe[c]) {
      out->push_back(static_cast<char>(c));
    } else {
      out->push_back('%');
      out->push_back(kHex[c >> 4]);
      out->push_back(kHex[c & 15]);
    }
  }
}

std::string EscapeId(std::string_view id) {
  std::string out;
  AppendEscaped(id, &out);
  return out;
}

MemberKeys::MemberKeys(std::string_view tenant, std::string_view member) {
  prefix_ = "rb:{";
  AppendEscaped(tenant, &prefix_);
  prefix_.push_back('/');
  AppendEscaped(member, &prefix_);
  prefix_.push_back('}');
}

std::string MemberKeys::With(std::string_view suffix) const {
  std::string key = prefix_;
  key.append(suffix);
  return key;
}

std::string MemberKeys::With(std::string_view suffix,
                             std::string_view id) const {
  std::string key = prefix_;
  key.append(suffix);
  AppendEscaped(id, &key);
  return key;
}

std::string MemberKeys::Sender() const { return With(":snd"); }
std::string MemberKeys::Recipient() const { return With(":rcv"); }
std::string MemberKeys::AcceptHours() const { return With(":hours"); }
std::string MemberKeys::Request(std::string_view request_id) const {
  return With(":req:", request_id);
}
std::string MemberKeys::Pair(std::string_view recipient) const {
  return With(":pair:", recipient);
}
std::string MemberKeys::ReceivedMarker(std::string_view request_id,
                                       bool outcome) const {
  std::string key = With(":in:", request_id);
  key.append(outcome ? ":outcome" : ":sent");
  return key;
}
std::string MemberKeys::Suggestion(std::string_view suggestion_id) const {
  return With(":sugg:", suggestion_id);
}
std::string MemberKeys::Suggestions() const { return With(":suggs"); }
std::string MemberKeys::Waiting() const { return With(":waiting"); }
std::string MemberKeys::Retries(std::string_view recipient) const {
  return With(":retries:", recipient);
}
std::string MemberKeys::Flags() const { return With(":flags"); }
std::string MemberKeys::Works() const { return With(":works"); }
std::string MemberKeys::Stream() const { return With(":sugg-stream"); }

TenantKeys::TenantKeys(std::string_view tenant) {
  prefix_ = "rb:{";
  AppendEscaped(tenant, &prefix_);
  prefix_.push_back('}');
}

std::string TenantKeys::Stream() const { return prefix_ + ":sugg-stream"; }
std::string TenantKeys::StreamMarker(std::string_view suggestion_id,
                                     int64_t version) const {
  std::string key = prefix_ + ":sugg-ev:";
  AppendEscaped(suggestion_id, &key);
  key.push_back(':');
  key.append(std::to_string(version));
  return key;
}
std::string TenantKeys::Pending() const { return prefix_ + ":pending"; }

std::string TenantKeys::Clock() const { return prefix_ + ":clock"; }
std::string TenantKeys::Works() const { return prefix_ + ":works"; }
std::string TenantKeys::AtRisk() const { return prefix_ + ":at-risk"; }

std::string TenantsKey() { return "rb:tenants"; }

std::string PendingEntry(std::string_view sender, std::string_view recipient,
                         std::string_view request_id) {
  std::string entry;
  AppendEscaped(sender, &entry);
  entry.push_back(':');
  AppendEscaped(recipient, &entry);
  entry.push_back(':');
  AppendEscaped(request_id, &entry);
  return entry;
}

bool UnescapeId(std::string_view escaped, std::string* id) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  id->clear();
  for (size_t i = 0; i < escaped.size(); ++i) {
    const unsigned char c = escaped[i];
    if (c == '%') {
      if (i + 2 >= escaped.size()) return false;
      const int hi = hex(escaped[i + 1]), lo = hex(escaped[i + 2]);
      if (hi < 0 || lo < 0) return false;
      id->push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (kSafe[c]) {
      id->push_back(static_cast<char>(c));
    } else {
      return false;
    }
  }
  return true;
}

bool ParsePendingEntry(std::string_view entry, std::string* sender,
                       std::string* recipient, std::string* request_id) {
  const size_t a = entry.find(':');
  if (a == std::string_view::npos) return false;
  const size_t b = entry.find(':', a + 1);
  if (b == std::string_view::npos || entry.find(':', b + 1) != entry.npos) {
    return false;
  }
  return UnescapeId(entry.substr(0, a), sender) &&
         UnescapeId(entry.substr(a + 1, b - a - 1), recipient) &&
         UnescapeId(entry.substr(b + 1), request_id);
}

std::string EpochKey() { return "rb:epoch"; }

std::string NotifyEpochKey() { return "rb:epoch:notify"; }

std::string FenceKey() { return "rb:fence"; }

std::string FenceGenerationKey() { return "rb:fence:gen"; }

std::string FenceField(std::string_view group, std::string_view topic,
                       int32_t partition) {
  std::string out;
  AppendEscaped(group, &out);
  out += '/';
  AppendEscaped(topic, &out);
  out += '/';
  out += std::to_string(partition);
  return out;
}

bool IsNotifyKey(std::string_view key) {
  if (key.rfind("rb:{", 0) != 0) return false;
  const size_t close = key.find('}');
  if (close == std::string_view::npos) return false;
  const std::string_view tag = key.substr(4, close - 4);
  const std::string_view rest = key.substr(close + 1);
  if (tag.find('/') == std::string_view::npos) {  // A tenant's.
    return rest == ":sugg-stream" || rest.rfind(":sugg-ev:", 0) == 0;
  }
  if (rest == ":suggs" || rest == ":waiting" || rest == ":flags" ||
      rest == ":sugg-stream") {
    return true;
  }
  return rest.rfind(":sugg:", 0) == 0 || rest.rfind(":retries:", 0) == 0;
}

bool IsScoringKey(std::string_view key) {
  if (key == TenantsKey()) return true;
  if (key.rfind("rb:{", 0) != 0) return false;
  const size_t close = key.find('}');
  if (close == std::string_view::npos) return false;
  const std::string_view tag = key.substr(4, close - 4);
  const std::string_view rest = key.substr(close + 1);
  if (tag.find('/') == std::string_view::npos) {  // A tenant's.
    return rest == ":pending" || rest == ":clock" || rest == ":works" ||
           rest == ":at-risk";
  }
  if (rest == ":snd" || rest == ":rcv" || rest == ":hours" ||
      rest == ":works") {
    return true;
  }
  for (std::string_view p : {":req:", ":pair:", ":in:"}) {
    if (rest.rfind(p, 0) == 0) return true;
  }
  return false;
}

std::string MemberKeysPattern(std::string_view tenant) {
  // Escaped ids hold no glob characters ('*', '?', '[', '\\').
  std::string pattern = "rb:{";
  AppendEscaped(tenant, &pattern);
  pattern.append("/*");
  return pattern;
}

}  // namespace rebound::state
