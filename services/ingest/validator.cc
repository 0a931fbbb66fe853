#include "services/ingest/validator.h"

#include <cstdint>

#include "absl/strings/str_cat.h"
#include "common/ids.h"

namespace rebound::ingest {
namespace {

using rebound::v1::ConnectionEvent;

// The characters of an event id, by byte value.
struct IdChars {
  bool ok[256] = {};
  constexpr IdChars() {
    for (int c = 0; c < 256; ++c) {
      ok[c] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == ':' ||
              c == '-';
    }
  }
};
constexpr IdChars kIdChars;

bool IsIdChar(char c) { return kIdChars.ok[static_cast<unsigned char>(c)]; }

// Field names are string_views and become strings only in a returned error:
// the success path of a valid event allocates nothing.
std::optional<FieldError> Error(std::string_view field, std::string reason) {
  return FieldError{std::string(field), std::move(reason)};
}

std::optional<FieldError> CheckEventId(std::string_view id) {
  if (id.empty()) return FieldError{"event_id", "is required"};
  if (id.size() > kMaxIdChars) {
    return FieldError{
        "event_id", absl::StrCat("is ", id.size(), " characters, at most 128")};
  }
  for (char c : id) {
    if (!IsIdChar(c)) {
      return FieldError{"event_id",
                        "may only hold letters, digits and . _ : -"};
    }
  }
  return std::nullopt;
}

std::optional<FieldError> CheckTenant(std::string_view t) {
  if (auto why = TenantIdProblem(t)) return FieldError{"tenant_id", *why};
  return std::nullopt;
}

std::optional<FieldError> CheckMemberId(std::string_view field,
                                        std::string_view id, bool utf8) {
  if (id.size() > kMaxIdBytes) {
    return Error(field, absl::StrCat("is ", id.size(), " bytes, at most ",
                                     kMaxIdBytes, " (128 characters)"));
  }
  if (auto why = IdProblem(id, /*allow_slash=*/false, utf8)) {
    return Error(field, *why);
  }
  return std::nullopt;
}

// A nested field's path, "parent.name", built only when reported.
struct Path {
  std::string_view parent;
  std::string_view name;
  operator std::string() const {
    std::string s(parent);
    s += '.';
    s += name;
    return s;
  }
};

template <typename Field>
std::optional<FieldError> CheckText(const Field& field, std::string_view text,
                                    size_t max_chars, bool utf8) {
  if (!utf8 && !IsValidUtf8(text)) {
    return FieldError{std::string(field), "is not valid UTF-8"};
  }
  size_t n = CountCodePoints(text);
  if (n > max_chars) {
    return FieldError{
        std::string(field),
        absl::StrCat("is ", n, " characters, at most ", max_chars)};
  }
  return std::nullopt;
}

template <typename Field>
std::optional<FieldError> CheckRange(const Field& field, int64_t v, int64_t lo,
                                     int64_t hi) {
  if (v < lo || v > hi) {
    return FieldError{std::string(field),
                      absl::StrCat(v, " is out of range ", lo, "..", hi)};
  }
  return std::nullopt;
}

std::optional<FieldError> CheckProfile(std::string_view field,
                                       const ProfileView& p, bool utf8) {
  auto f = [&](std::string_view name) { return Path{field, name}; };
  if (auto e = CheckRange(f("connection_count"), p.connection_count, 0,
                          100'000'000)) {
    return e;
  }
  if (auto e =
          CheckRange(f("follower_count"), p.follower_count, 0, 1'000'000'000)) {
    return e;
  }
  // NaN fails both comparisons, so it is rejected too.
  if (!(p.completeness >= 0.0 && p.completeness <= 1.0)) {
    return FieldError{std::string(f("completeness")),
                      absl::StrCat(p.completeness, " is out of range 0..1")};
  }
  if (auto e =
          CheckRange(f("account_age_days"), p.account_age_days, 0, 36'500)) {
    return e;
  }
  if (auto e = CheckText(f("headline"), p.headline, 300, utf8)) return e;
  if (auto e = CheckText(f("industry"), p.industry, 120, utf8)) return e;
  if (auto e = CheckText(f("company"), p.company, 120, utf8)) return e;
  if (!rebound::v1::Seniority_IsValid(p.seniority)) {
    return FieldError{std::string(f("seniority")),
                      absl::StrCat(p.seniority, " is not a known Seniority")};
  }
  if (auto e = CheckRange(f("utc_offset_minutes"), p.utc_offset_minutes, -720,
                          840)) {
    return e;
  }
  if (auto e = CheckRange(f("spam_reports"), p.spam_reports, 0, 1'000'000)) {
    return e;
  }
  return std::nullopt;
}

std::optional<FieldError> CheckRequestId(std::string_view field,
                                         std::string_view id, bool required,
                                         bool utf8) {
  if (id.empty()) {
    if (required) return Error(field, "is required");
    return std::nullopt;
  }
  if (id.size() > kMaxIdBytes) {
    return Error(field, absl::StrCat("is ", id.size(), " bytes, at most ",
                                     kMaxIdBytes, " (128 characters)"));
  }
  if (auto why = IdProblem(id, /*allow_slash=*/true, utf8)) {
    return Error(field, *why);
  }
  return std::nullopt;
}

}  // namespace

absl::Status FieldError::ToStatus() const {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", reason));
}

std::optional<FieldError> Validate(const ConnectionEvent& event, absl::Time now,
                                   const ValidatorOptions& options) {
  return Validate(ViewOf(event), event.ByteSizeLong(), now, options);
}

std::optional<FieldError> Validate(const ConnectionEvent& event,
                                   size_t encoded_bytes, absl::Time now,
                                   const ValidatorOptions& options) {
  return Validate(ViewOf(event), encoded_bytes, now, options);
}

std::optional<FieldError> Validate(const EventView& event, size_t encoded_bytes,
                                   absl::Time now,
                                   const ValidatorOptions& options) {
  const size_t bytes = encoded_bytes;
  const bool utf8 = event.utf8_checked;
  if (bytes > options.max_event_bytes) {
    return FieldError{"event", absl::StrCat("is ", bytes, " bytes, at most ",
                                            options.max_event_bytes)};
  }
  if (auto e = CheckEventId(event.event_id)) return e;
  if (auto e = CheckTenant(event.tenant_id)) return e;

  if (!event.occurred_at) {
    return FieldError{"occurred_at", "is required"};
  }
  const TimestampView& ts = *event.occurred_at;
  if (ts.nanos < 0 || ts.nanos > 999'999'999) {
    return FieldError{"occurred_at.nanos", "is out of range 0..999999999"};
  }
  absl::Time at =
      absl::FromUnixSeconds(ts.seconds) + absl::Nanoseconds(ts.nanos);
  if (at < absl::FromUnixSeconds(946684800)) {  // 2000-01-01T00:00:00Z
    return FieldError{"occurred_at", "is before 2000-01-01"};
  }
  if (at > now + options.max_future_skew) {
    return FieldError{
        "occurred_at",
        absl::StrCat("is ", absl::FormatDuration(at - now),
                     " in the future, more than the allowed ",
                     absl::FormatDuration(options.max_future_skew))};
  }

  if (auto e = CheckMemberId("sender_id", event.sender_id, utf8)) return e;
  bool needs_recipient = event.payload_case != ConnectionEvent::kProfileUpdated;
  if (needs_recipient || !event.recipient_id.empty()) {
    if (auto e = CheckMemberId("recipient_id", event.recipient_id, utf8))
      return e;
    if (event.recipient_id == event.sender_id) {
      return FieldError{"recipient_id", "must differ from sender_id"};
    }
  }

  const PayloadView& p = event.payload;
  switch (event.payload_case) {
    case ConnectionEvent::kRequestSent: {
      if (auto e = CheckRequestId("request_sent.request_id", p.request_id, true,
                                  utf8)) {
        return e;
      }
      if (auto e =
              CheckText("request_sent.note", p.note,
                        static_cast<size_t>(options.max_note_chars), utf8)) {
        return e;
      }
      if (!rebound::v1::Channel_IsValid(p.channel)) {
        return FieldError{"request_sent.channel",
                          absl::StrCat(p.channel, " is not a known Channel")};
      }
      if (!p.sender_profile) {
        return FieldError{"request_sent.sender_profile", "is required"};
      }
      if (auto e = CheckProfile("request_sent.sender_profile",
                                *p.sender_profile, utf8)) {
        return e;
      }
      if (!p.recipient_profile) {
        return FieldError{"request_sent.recipient_profile", "is required"};
      }
      if (auto e = CheckProfile("request_sent.recipient_profile",
                                *p.recipient_profile, utf8)) {
        return e;
      }
      if (auto e = CheckRange("request_sent.mutual_connections",
                              p.mutual_connections, 0, 100'000)) {
        return e;
      }
      return std::nullopt;
    }
    case ConnectionEvent::kRequestAccepted:
      return CheckRequestId("request_accepted.request_id", p.request_id, true,
                            utf8);
    case ConnectionEvent::kRequestDeclined: {
      if (auto e = CheckRequestId("request_declined.request_id", p.request_id,
                                  true, utf8)) {
        return e;
      }
      if (p.kind == rebound::v1::DECLINE_KIND_UNSPECIFIED) {
        return FieldError{"request_declined.kind", "is required"};
      }
      if (!rebound::v1::DeclineKind_IsValid(p.kind)) {
        return FieldError{"request_declined.kind",
                          absl::StrCat(p.kind, " is not a known DeclineKind")};
      }
      return std::nullopt;
    }
    case ConnectionEvent::kRequestWithdrawn:
      return CheckRequestId("request_withdrawn.request_id", p.request_id, true,
                            utf8);
    case ConnectionEvent::kRequestExpired:
      return CheckRequestId("request_expired.request_id", p.request_id, true,
                            utf8);
    case ConnectionEvent::kProfileViewed:
      return CheckRequestId("profile_viewed.request_id", p.request_id, false,
                            utf8);
    case ConnectionEvent::kProfileUpdated: {
      if (!p.profile) {
        return FieldError{"profile_updated.profile", "is required"};
      }
      return CheckProfile("profile_updated.profile", *p.profile, utf8);
    }
    case ConnectionEvent::PAYLOAD_NOT_SET:
      break;
  }
  return FieldError{"payload",
                    "is required: set one of request_sent, request_accepted, "
                    "request_declined, request_withdrawn, request_expired, "
                    "profile_viewed, profile_updated"};
}

}  // namespace rebound::ingest
