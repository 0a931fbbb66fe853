#include "services/ingest/event_view.h"

#include <cstring>
#include <sstream>

#include "common/utf8.h"

namespace rebound::ingest {
namespace {

using rebound::v1::ConnectionEvent;
using rebound::v1::ProfileSnapshot;

enum Wire : uint32_t {
  kVarint = 0,
  kFixed64 = 1,
  kDelimited = 2,
  kFixed32 = 5
};

// A cursor over one message's bytes. Every read fails (false) rather than
// run past the end or accept what protobuf's parser might read otherwise.
class Cursor {
 public:
  explicit Cursor(std::string_view bytes)
      : p_(bytes.data()), end_(bytes.data() + bytes.size()) {}

  bool done() const { return p_ == end_; }

  // A varint of at most `max_bytes` bytes (padded ones included).
  bool Varint(uint64_t* out, int max_bytes = 10) {
    // Most tags, lengths and numbers of an event fit in one byte.
    if (p_ != end_ && static_cast<uint8_t>(*p_) < 0x80) {
      *out = static_cast<uint8_t>(*p_++);
      return true;
    }
    uint64_t v = 0;
    for (int i = 0; i < max_bytes; ++i) {
      if (p_ == end_) return false;
      const auto b = static_cast<uint8_t>(*p_++);
      // A 10th byte above 1 overflows 64 bits: left to protobuf.
      if (i == 9 && b > 1) return false;
      v |= static_cast<uint64_t>(b & 0x7F) << (7 * i);
      if (b < 0x80) {
        *out = v;
        return true;
      }
    }
    return false;
  }

  // Protobuf reads a tag or a length in at most five bytes (a length's
  // fifth below 8) and refuses longer, padded ones; this reader takes at
  // most four (field numbers below 2^25, lengths below 2^28) and leaves the
  // rest to protobuf.
  static constexpr int kMaxTagOrLengthBytes = 4;

  // A field's number and wire type; fails on a zero field number and on the
  // group wire types, which ConnectionEvent does not use.
  bool Tag(uint32_t* field, uint32_t* wire) {
    uint64_t tag = 0;
    if (!Varint(&tag, kMaxTagOrLengthBytes)) return false;
    *field = static_cast<uint32_t>(tag >> 3);
    *wire = static_cast<uint32_t>(tag & 7);
    return *field != 0 && (*wire == kVarint || *wire == kFixed64 ||
                           *wire == kDelimited || *wire == kFixed32);
  }

  bool Delimited(std::string_view* out) {
    uint64_t n = 0;
    if (!Varint(&n, kMaxTagOrLengthBytes) ||
        n > static_cast<uint64_t>(end_ - p_)) {
      return false;
    }
    *out = std::string_view(p_, static_cast<size_t>(n));
    p_ += n;
    return true;
  }

  bool Fixed(size_t n, void* out) {
    if (static_cast<size_t>(end_ - p_) < n) return false;
    if (out != nullptr) std::memcpy(out, p_, n);
    p_ += n;
    return true;
  }

  // Steps over a field this reader does not use.
  bool Skip(uint32_t wire) {
    uint64_t ignored = 0;
    std::string_view bytes;
    switch (wire) {
      case kVarint:
        return Varint(&ignored);
      case kFixed64:
        return Fixed(8, nullptr);
      case kDelimited:
        return Delimited(&bytes);
      case kFixed32:
        return Fixed(4, nullptr);
      default:
        return false;
    }
  }

 private:
  const char* p_;
  const char* const end_;
};

// Singular fields seen so far in one message: a second occurrence is left
// to protobuf (last one wins for scalars, sub-messages merge).
class Seen {
 public:
  bool First(uint32_t field) {
    const uint64_t bit = uint64_t{1} << (field & 63);
    if (bits_ & bit) return false;
    bits_ |= bit;
    return true;
  }

 private:
  uint64_t bits_ = 0;
};

// A proto3 string: protobuf refuses one that is not UTF-8 (IsValidUtf8
// accepts exactly what protobuf's own check accepts; tested).
bool String(Cursor& in, std::string_view* out) {
  return in.Delimited(out) && IsValidUtf8(*out);
}

bool Int64(Cursor& in, int64_t* out) {
  uint64_t v = 0;
  if (!in.Varint(&v)) return false;
  *out = static_cast<int64_t>(v);
  return true;
}

// int32 and enum fields keep the low 32 bits of the varint, as protobuf does.
bool Int32(Cursor& in, int32_t* out) {
  uint64_t v = 0;
  if (!in.Varint(&v)) return false;
  *out = static_cast<int32_t>(static_cast<uint32_t>(v));
  return true;
}

// Reads every field of one message with `field(number, wire)`, which returns
// false for what it cannot take; unknown fields (`field` returns nullopt)
// are skipped, as protobuf keeps them aside.
template <typename OnField>
bool ReadMessage(std::string_view bytes, OnField field) {
  Cursor in(bytes);
  Seen seen;
  while (!in.done()) {
    uint32_t number = 0, wire = 0;
    if (!in.Tag(&number, &wire)) return false;
    std::optional<bool> read = field(in, seen, number, wire);
    if (!read) {
      if (!in.Skip(wire)) return false;
    } else if (!*read) {
      return false;
    }
  }
  return true;
}

// The field's wire type is `expected` and it is its first occurrence.
bool Once(Seen& seen, uint32_t number, uint32_t wire, uint32_t expected) {
  return wire == expected && seen.First(number);
}

bool ReadTimestamp(std::string_view bytes, TimestampView* out) {
  return ReadMessage(
      bytes,
      [out](Cursor& in, Seen& seen, uint32_t n,
            uint32_t w) -> std::optional<bool> {
        switch (n) {
          case 1:
            return Once(seen, n, w, kVarint) && Int64(in, &out->seconds);
          case 2:
            return Once(seen, n, w, kVarint) && Int32(in, &out->nanos);
          default:
            return std::nullopt;
        }
      });
}

bool ReadProfile(std::string_view bytes, ProfileView* out) {
  return ReadMessage(
      bytes,
      [out](Cursor& in, Seen& seen, uint32_t n,
            uint32_t w) -> std::optional<bool> {
        uint64_t v = 0;
        switch (n) {
          case 1:
            if (!Once(seen, n, w, kVarint) || !in.Varint(&v)) return false;
            out->has_photo = v != 0;
            return true;
          case 2:
            return Once(seen, n, w, kVarint) &&
                   Int64(in, &out->connection_count);
          case 3:
            return Once(seen, n, w, kVarint) && Int64(in, &out->follower_count);
          case 4:
            return Once(seen, n, w, kFixed64) &&
                   in.Fixed(sizeof(double), &out->completeness);
          case 5:
            return Once(seen, n, w, kVarint) &&
                   Int32(in, &out->account_age_days);
          case 6:
            return Once(seen, n, w, kDelimited) && String(in, &out->headline);
          case 7:
            return Once(seen, n, w, kDelimited) && String(in, &out->industry);
          case 8:
            return Once(seen, n, w, kDelimited) && String(in, &out->company);
          case 9:
            return Once(seen, n, w, kVarint) && Int32(in, &out->seniority);
          case 10:
            return Once(seen, n, w, kVarint) &&
                   Int32(in, &out->utc_offset_minutes);
          case 11:
            return Once(seen, n, w, kVarint) && Int32(in, &out->spam_reports);
          default:
            return std::nullopt;
        }
      });
}

bool ReadProfileField(Cursor& in, std::optional<ProfileView>* out) {
  std::string_view bytes;
  return in.Delimited(&bytes) && ReadProfile(bytes, &out->emplace());
}

bool ReadPayload(std::string_view bytes, ConnectionEvent::PayloadCase kind,
                 PayloadView* out) {
  return ReadMessage(
      bytes,
      [kind, out](Cursor& in, Seen& seen, uint32_t n,
                  uint32_t w) -> std::optional<bool> {
        if (kind == ConnectionEvent::kProfileUpdated) {
          std::string_view changed;
          switch (n) {
            case 1:
              return Once(seen, n, w, kDelimited) &&
                     ReadProfileField(in, &out->profile);
            case 2:  // repeated string changed_fields: checked, not kept.
              return w == kDelimited && String(in, &changed);
            default:
              return std::nullopt;
          }
        }
        if (n == 1) {
          return Once(seen, n, w, kDelimited) && String(in, &out->request_id);
        }
        if (kind == ConnectionEvent::kRequestDeclined && n == 2) {
          return Once(seen, n, w, kVarint) && Int32(in, &out->kind);
        }
        if (kind != ConnectionEvent::kRequestSent) return std::nullopt;
        switch (n) {
          case 2:
            return Once(seen, n, w, kDelimited) && String(in, &out->note);
          case 3:
            return Once(seen, n, w, kVarint) && Int32(in, &out->channel);
          case 4:
            return Once(seen, n, w, kDelimited) &&
                   ReadProfileField(in, &out->sender_profile);
          case 5:
            return Once(seen, n, w, kDelimited) &&
                   ReadProfileField(in, &out->recipient_profile);
          case 6:
            return Once(seen, n, w, kVarint) &&
                   Int32(in, &out->mutual_connections);
          default:
            return std::nullopt;
        }
      });
}

ProfileView ViewOf(const ProfileSnapshot& p) {
  ProfileView v;
  v.has_photo = p.has_photo();
  v.connection_count = p.connection_count();
  v.follower_count = p.follower_count();
  v.completeness = p.completeness();
  v.account_age_days = p.account_age_days();
  v.headline = p.headline();
  v.industry = p.industry();
  v.company = p.company();
  v.seniority = p.seniority();
  v.utc_offset_minutes = p.utc_offset_minutes();
  v.spam_reports = p.spam_reports();
  return v;
}

}  // namespace

EventView ViewOf(const ConnectionEvent& e) {
  EventView v;
  v.event_id = e.event_id();
  v.tenant_id = e.tenant_id();
  if (e.has_occurred_at()) {
    v.occurred_at =
        TimestampView{e.occurred_at().seconds(), e.occurred_at().nanos()};
  }
  v.sender_id = e.sender_id();
  v.recipient_id = e.recipient_id();
  v.payload_case = e.payload_case();
  PayloadView& p = v.payload;
  switch (e.payload_case()) {
    case ConnectionEvent::kRequestSent: {
      const auto& s = e.request_sent();
      p.request_id = s.request_id();
      p.note = s.note();
      p.channel = s.channel();
      if (s.has_sender_profile()) p.sender_profile = ViewOf(s.sender_profile());
      if (s.has_recipient_profile())
        p.recipient_profile = ViewOf(s.recipient_profile());
      p.mutual_connections = s.mutual_connections();
      break;
    }
    case ConnectionEvent::kRequestAccepted:
      p.request_id = e.request_accepted().request_id();
      break;
    case ConnectionEvent::kRequestDeclined:
      p.request_id = e.request_declined().request_id();
      p.kind = e.request_declined().kind();
      break;
    case ConnectionEvent::kRequestWithdrawn:
      p.request_id = e.request_withdrawn().request_id();
      break;
    case ConnectionEvent::kRequestExpired:
      p.request_id = e.request_expired().request_id();
      break;
    case ConnectionEvent::kProfileViewed:
      p.request_id = e.profile_viewed().request_id();
      break;
    case ConnectionEvent::kProfileUpdated:
      if (e.profile_updated().has_profile())
        p.profile = ViewOf(e.profile_updated().profile());
      break;
    case ConnectionEvent::PAYLOAD_NOT_SET:
      break;
  }
  return v;
}

bool ReadEventView(std::string_view bytes, EventView* out) {
  *out = EventView{};
  out->utf8_checked = true;
  return ReadMessage(
      bytes,
      [out](Cursor& in, Seen& seen, uint32_t n,
            uint32_t w) -> std::optional<bool> {
        std::string_view sub;
        switch (n) {
          case ConnectionEvent::kEventIdFieldNumber:
            return Once(seen, n, w, kDelimited) && String(in, &out->event_id);
          case ConnectionEvent::kTenantIdFieldNumber:
            return Once(seen, n, w, kDelimited) && String(in, &out->tenant_id);
          case ConnectionEvent::kOccurredAtFieldNumber:
            return Once(seen, n, w, kDelimited) && in.Delimited(&sub) &&
                   ReadTimestamp(sub, &out->occurred_at.emplace());
          case ConnectionEvent::kSenderIdFieldNumber:
            return Once(seen, n, w, kDelimited) && String(in, &out->sender_id);
          case ConnectionEvent::kRecipientIdFieldNumber:
            return Once(seen, n, w, kDelimited) &&
                   String(in, &out->recipient_id);
          case ConnectionEvent::kRequestSentFieldNumber:
          case ConnectionEvent::kRequestAcceptedFieldNumber:
          case ConnectionEvent::kRequestDeclinedFieldNumber:
          case ConnectionEvent::kRequestWithdrawnFieldNumber:
          case ConnectionEvent::kRequestExpiredFieldNumber:
          case ConnectionEvent::kProfileViewedFieldNumber:
          case ConnectionEvent::kProfileUpdatedFieldNumber: {
            // One payload, given once: protobuf merges a repeated one and a
            // later kind replaces an earlier one.
            if (w != kDelimited ||
                out->payload_case != ConnectionEvent::PAYLOAD_NOT_SET) {
              return false;
            }
            out->payload_case = static_cast<ConnectionEvent::PayloadCase>(n);
            return in.Delimited(&sub) &&
                   ReadPayload(sub, out->payload_case, &out->payload);
          }
          default:
            return std::nullopt;
        }
      });
}

namespace {

// A string with its length, so no content can pass for a separator.
std::string Str(std::string_view s) {
  return std::to_string(s.size()) + ":" + std::string(s);
}

std::string FieldsOf(const std::optional<ProfileView>& p) {
  if (!p) return "-";
  uint64_t bits = 0;
  std::memcpy(&bits, &p->completeness, sizeof(bits));
  std::ostringstream out;
  out << "{" << p->has_photo << "," << p->connection_count << ","
      << p->follower_count << "," << bits << "," << p->account_age_days << ","
      << Str(p->headline) << "," << Str(p->industry) << "," << Str(p->company)
      << "," << p->seniority << "," << p->utc_offset_minutes << ","
      << p->spam_reports << "}";
  return out.str();
}

}  // namespace

std::string FieldsOf(const EventView& v) {
  const PayloadView& p = v.payload;
  std::ostringstream out;
  out << Str(v.event_id) << "|" << Str(v.tenant_id) << "|";
  if (v.occurred_at) {
    out << v.occurred_at->seconds << "." << v.occurred_at->nanos;
  } else {
    out << "-";
  }
  out << "|" << Str(v.sender_id) << "|" << Str(v.recipient_id) << "|"
      << v.payload_case << "|" << Str(p.request_id) << "|" << Str(p.note) << "|"
      << p.channel << "|" << FieldsOf(p.sender_profile) << "|"
      << FieldsOf(p.recipient_profile) << "|" << p.mutual_connections << "|"
      << p.kind << "|" << FieldsOf(p.profile);
  return out.str();
}

}  // namespace rebound::ingest
