#!/usr/bin/env python3
"""worldgen: an independent synthetic world of connection requests for Rebound.

Writes a file of rebound.v1.ConnectionEvent records (protobuf JSON, one per line,
in time order) and a truth file naming, for every declined or expired request,
the mechanism that actually caused it in this world.

It is written from DESIGN.md and the protos only, without looking at the
project's own simulator or classifier, so that a classifier tuned on the
project's simulator can be checked against a world built by a different
generative model. Standard library only; deterministic for a seed.

The generative story, in short (README.md has the longer version):

* Tenants are products with their own industry, companies (some of them direct
  rivals), topics and time-zone mix.
* Members have a public profile (what the events show) and hidden traits: a
  sender kind (networker, newcomer, salesperson, recruiter, climber, rival,
  fake account) and recipient dispositions (how carefully they check profiles,
  how much they dislike pitches, how much they guard their network, how wary
  they are of competitors, how often they open their invitations, whether
  they ignore, decline or just leave requests pending).
* Senders send in sessions; each request gets a recipient, channel, note and
  send time chosen by the sender's kind.
* The recipient opens invitations at check-ins (their own rhythm and local
  active hours). An invitation not noticed before it expires or is withdrawn
  was NOT SEEN. When noticed, the recipient may look the sender up; then four
  independent "rejection pressures" (spam-looking profile, off-target
  approach, competitor, credibility guard) each fire with probability
  1 - exp(-pressure). None fired: accepted. Otherwise the dominant fired
  pressure is the true reason; how it ends (ignored, declined, reported, left
  pending until expiry) depends on the reason and the recipient's habits.
* Senders withdraw stale invitations, improve their profiles (ProfileUpdated)
  and retry, some following good advice, some too soon and unchanged.
"""

from __future__ import annotations

import argparse
import bisect
import heapq
import json
import math
import random
import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone

DAY = 86400
HOUR = 3600
MINUTE = 60

# The world starts on a Monday; sends are spread over SEND_WINDOW_DAYS.
WORLD_START = int(datetime(2023, 3, 6, tzinfo=timezone.utc).timestamp())
SEND_WINDOW_DAYS = 240
# Pending invitations expire after about six months (DESIGN.md).
EXPIRY_DAYS = 182
# Re-inviting after a withdrawal is blocked for three weeks (DESIGN.md).
REINVITE_BLOCK_DAYS = 21
# Spam reports after which the platform restricts an account (stops its sends).
RESTRICT_AFTER_REPORTS = 8

# The true reasons (scoring.proto's DeclineReason names).
SPAMMY = "DECLINE_REASON_SPAMMY_PROFILE"
OFF_TARGET = "DECLINE_REASON_OFF_TARGET_APPROACH"
COMPETITOR = "DECLINE_REASON_PERCEIVED_COMPETITOR"
GUARD = "DECLINE_REASON_CREDIBILITY_GUARD"
NOT_SEEN = "DECLINE_REASON_NOT_SEEN"
MECHANISMS = (SPAMMY, OFF_TARGET, COMPETITOR, GUARD)

# Seniority enum names (events.proto) and a rough status rank for each.
SENIORITY_RANK = {
    "SENIORITY_UNSPECIFIED": 1.5,
    "SENIORITY_ENTRY": 1.0,
    "SENIORITY_SENIOR": 2.0,
    "SENIORITY_MANAGER": 3.0,
    "SENIORITY_DIRECTOR": 4.0,
    "SENIORITY_VP": 5.0,
    "SENIORITY_CXO": 6.0,
    "SENIORITY_OWNER": 5.0,
}
SENIORITY_LADDER = ["SENIORITY_ENTRY", "SENIORITY_SENIOR", "SENIORITY_MANAGER",
                    "SENIORITY_DIRECTOR", "SENIORITY_VP", "SENIORITY_CXO"]

# ---------------------------------------------------------------------------
# Tenants: each product has its own industry, companies, topics and regions.
# Companies inside one rival group compete directly with each other.
# ---------------------------------------------------------------------------
TENANTS = [
    dict(id="finlink", industry="Financial Services",
         rival_groups=[["Ledgerly", "Paystream", "Coinvault", "Brightpay"],
                       ["Northgate Bank", "Harbor Trust", "Union Mutual"]],
         others=["Quantix Advisory", "Meridian Insurance", "Bluefin Asset Management",
                 "Castle Rock Capital"],
         topics=["payments", "credit risk", "open banking", "wealth management",
                 "fraud prevention", "treasury", "regulatory reporting"],
         functions=["Sales", "Engineering", "Risk", "Finance", "Product", "Operations",
                    "Compliance", "Marketing"],
         regions={"us": 0.45, "eu": 0.35, "in": 0.10, "apac": 0.10},
         events=["Money20/20", "FinTech Week", "Open Banking Summit", "Risk Forum"]),
    dict(id="medcircle", industry="Hospital & Health Care",
         rival_groups=[["Vitalis Health", "Careline Clinics", "Mercy Partners"],
                       ["Genova Bio", "Helix Therapeutics", "Synthra Labs", "Orbis Pharma"]],
         others=["St. Anne Hospital", "Pulse Diagnostics", "MedAxis Consulting"],
         topics=["clinical trials", "patient experience", "digital health",
                 "oncology", "health data", "care pathways", "medical devices"],
         functions=["Clinical", "Research", "Operations", "Sales", "Regulatory Affairs",
                    "Engineering", "Finance", "Nursing"],
         regions={"us": 0.55, "eu": 0.30, "latam": 0.10, "in": 0.05},
         events=["HIMSS", "BIO International", "Digital Health Summit", "ASCO"]),
    dict(id="buildhub", industry="Construction",
         rival_groups=[["Stonebridge Builders", "Atlas Construction", "Keystone Group"],
                       ["Urbanis Developments", "Crestline Properties"]],
         others=["GreenFrame Engineering", "Metro Surveyors", "Apex Materials",
                 "Civic Works Council"],
         topics=["modular construction", "BIM", "site safety", "sustainable materials",
                 "project controls", "facility management"],
         functions=["Project Management", "Engineering", "Sales", "Procurement",
                    "Operations", "Finance", "Design", "Safety"],
         regions={"eu": 0.40, "me": 0.25, "apac": 0.20, "in": 0.15},
         events=["BuildTech Expo", "World of Concrete", "Cityscape", "BIM Conference"]),
    dict(id="saasworks", industry="Computer Software",
         rival_groups=[["Cloudnine", "Stackwise", "Datapilot", "Nimbly"],
                       ["Securely", "Shieldbyte", "Lockpath"]],
         others=["Pixelforge Studio", "Growthloop Agency", "OpenSource Foundation"],
         topics=["developer tools", "data platforms", "cloud security", "product-led growth",
                 "observability", "machine learning ops", "API design"],
         functions=["Engineering", "Product", "Sales", "Marketing", "Customer Success",
                    "Design", "Data", "Finance"],
         regions={"us": 0.45, "eu": 0.30, "in": 0.15, "latam": 0.10},
         events=["KubeCon", "SaaStr Annual", "Web Summit", "DevOpsDays"]),
    dict(id="brandwave", industry="Marketing & Advertising",
         rival_groups=[["Bright Ideas Agency", "Northstar Media", "Loud Creative"],
                       ["Adpulse", "Clickmetric"]],
         others=["Fresh Foods Co", "Urban Apparel", "Globe Retail", "Sunrise Hotels"],
         topics=["brand strategy", "performance marketing", "content marketing",
                 "influencer campaigns", "marketing analytics", "creative direction"],
         functions=["Marketing", "Creative", "Sales", "Account Management", "Data",
                    "Strategy", "Social Media", "Finance"],
         regions={"eu": 0.40, "us": 0.30, "latam": 0.15, "apac": 0.15},
         events=["Cannes Lions", "Advertising Week", "Content Marketing World", "DMEXCO"]),
]

# UTC offsets (minutes) per region; DST is ignored.
REGION_OFFSETS = {
    "us": [(-480, 3), (-420, 1), (-360, 2), (-300, 4)],
    "eu": [(0, 2), (60, 5), (120, 2)],
    "in": [(330, 1)],
    "apac": [(480, 3), (540, 1), (600, 2)],
    "latam": [(-180, 3), (-300, 1)],
    "me": [(240, 2), (180, 1)],
}

# Companies that sell into every tenant's industry, and recruiting agencies.
VENDORS = ["Salesforge", "Optimate", "Brightlead", "Cloudreach Solutions", "Datawell",
           "Leadgenix", "ProcureRight", "Talkdesk Pro"]
AGENCIES = ["TalentBridge", "Hirewell Partners", "Apex Search", "PeopleFirst Staffing",
            "Kestrel Executive Search"]
FAKE_COMPANIES = ["Global Wealth Partners", "Elite Capital Group", "Prime Crypto Ventures",
                  "International Trade Holdings", "Freedom Income Network", ""]
FIRST_NAMES = ["Ana", "Ben", "Chen", "Divya", "Emma", "Farid", "Grace", "Hiro", "Ines",
               "Jonas", "Kemi", "Lucas", "Maya", "Nikhil", "Olga", "Pedro", "Qing",
               "Rosa", "Sam", "Tara", "Uma", "Victor", "Wen", "Ximena", "Yusuf", "Zoe",
               "Aisha", "Bruno", "Carla", "Dmitri", "Elif", "Felix", "Gita", "Hannah",
               "Ivan", "Julia", "Kofi", "Lena", "Mateo", "Nora", "Omar", "Priya"]

# Sender kinds: share of the population and default share of requests sent.
KIND_POPULATION = {"networker": 0.55, "newcomer": 0.12, "sales": 0.08, "recruiter": 0.06,
                   "climber": 0.08, "rival": 0.05, "fake": 0.06}
DEFAULT_MIX = {"networker": 0.30, "sales": 0.18, "recruiter": 0.12, "fake": 0.12,
               "climber": 0.10, "newcomer": 0.10, "rival": 0.08}
# Requests per sending session (min, max) per kind.
SESSION_SIZE = {"networker": (1, 3), "newcomer": (1, 5), "sales": (2, 10),
                "recruiter": (2, 8), "climber": (1, 3), "rival": (1, 4), "fake": (5, 25)}

CHANNELS = {
    "networker": {"CHANNEL_EVENT": 25, "CHANNEL_SUGGESTIONS": 30, "CHANNEL_PROFILE": 25,
                  "CHANNEL_SEARCH": 10, "CHANNEL_IMPORT": 7, "CHANNEL_OTHER": 3},
    "newcomer": {"CHANNEL_SUGGESTIONS": 40, "CHANNEL_SEARCH": 20, "CHANNEL_PROFILE": 15,
                 "CHANNEL_IMPORT": 15, "CHANNEL_EVENT": 10},
    "sales": {"CHANNEL_SEARCH": 55, "CHANNEL_PROFILE": 30, "CHANNEL_EVENT": 5,
              "CHANNEL_SUGGESTIONS": 5, "CHANNEL_OTHER": 5},
    "recruiter": {"CHANNEL_SEARCH": 70, "CHANNEL_PROFILE": 20, "CHANNEL_OTHER": 10},
    "climber": {"CHANNEL_PROFILE": 45, "CHANNEL_SEARCH": 25, "CHANNEL_EVENT": 20,
                "CHANNEL_SUGGESTIONS": 10},
    "rival": {"CHANNEL_PROFILE": 40, "CHANNEL_SEARCH": 30, "CHANNEL_EVENT": 20,
              "CHANNEL_SUGGESTIONS": 10},
    "fake": {"CHANNEL_SUGGESTIONS": 40, "CHANNEL_SEARCH": 30, "CHANNEL_OTHER": 20,
             "CHANNEL_PROFILE": 10},
}

# Note styles per sender kind (weights); "none" means no note.
NOTE_STYLES = {
    "networker": {"none": 45, "personal": 30, "value": 8, "generic": 12, "pitch": 5},
    "newcomer": {"none": 35, "generic": 25, "favour": 20, "personal": 15, "value": 5},
    "sales": {"none": 20, "pitch": 50, "value": 20, "generic": 7, "personal": 3},
    "recruiter": {"none": 20, "recruit": 65, "generic": 8, "value": 4, "personal": 3},
    "climber": {"none": 30, "favour": 40, "value": 12, "generic": 13, "personal": 5},
    "rival": {"none": 35, "peer": 40, "generic": 10, "value": 10, "personal": 5},
    "fake": {"none": 30, "spam": 35, "generic": 20, "pitch": 10, "personal": 5},
}

# How much a note of each style asks before it gives (the recipient's view of
# it, 0 = asks nothing), as (mean, spread).
NOTE_ASK = {"none": (0.0, 0.0), "personal": (0.0, 0.05), "value": (0.0, 0.05),
            "generic": (0.15, 0.05), "peer": (0.35, 0.15), "recruit": (0.8, 0.25),
            "favour": (0.8, 0.3), "pitch": (1.1, 0.3), "spam": (1.5, 0.2)}

NOTE_TEMPLATES = {
    "personal": [
        "Hi {first}, great meeting you at {event} last week!",
        "Hi {first}, we met at {event} - would be good to stay in touch.",
        "{first}, {mutual} suggested I reach out - we're both working on {topic}.",
        "Hi {first}, we spoke briefly after the {topic} panel at {event}. Let's keep in touch.",
        "Hi {first}, fellow {topic} enthusiast here - enjoyed reading about your work at {rcompany}.",
        "Good to see you again at {event}, {first}!",
    ],
    "value": [
        "Hi {first}, I enjoyed your post on {topic}. We published a short benchmark on it last month - happy to send it over if useful.",
        "Hi {first}, saw your talk at {event}. I put together notes on {topic} that you might find useful - glad to share.",
        "Hello {first} - we both work on {topic}. I wrote a checklist our team uses for it; happy to pass it on, no strings attached.",
        "Hi {first}, I noticed {rcompany} is hiring for {topic}. I know two strong people who might fit - happy to introduce them.",
        "Hi {first}, your question about {topic} at {event} stayed with me; here is how we solved it at {company} - happy to walk you through it.",
    ],
    "generic": [
        "I'd like to add you to my professional network.",
        "Hi {first}, I'd like to connect.",
        "Hi, hope you're well. Let's connect!",
        "Hello {first}, looking forward to connecting with you.",
        "Hi {first}, I came across your profile and would like to connect.",
    ],
    "pitch": [
        "Hi {first}, I help {industry} teams cut costs by 30% with our platform. Do you have 15 minutes this week for a quick call?",
        "Hi {first}, are you the right person to talk to about {topic}? We'd love to book a demo with your team.",
        "Hello {first}, we work with companies like {rcompany} on {topic}. Would you be open to a short call to explore a partnership?",
        "Hi {first}, quick question: who handles {topic} purchasing at {rcompany}? I'd like to send over our pricing.",
        "Hi {first}, our {topic} solution is used by leading {industry} firms. Can I get 20 minutes on your calendar?",
    ],
    "pitch_tail": [
        " We have helped over 200 clients improve their results and I'm confident we can do the same for you.",
        " Our customers typically see ROI within the first quarter, and onboarding takes less than a week.",
        " I can also share case studies from similar companies in your market if that helps.",
    ],
    "recruit": [
        "Hi {first}, I have an exciting {function} opportunity with a fast-growing client. Are you open to a confidential chat?",
        "Hi {first}, your background at {rcompany} caught my eye. We're hiring a {function} lead - interested? Please send me your CV.",
        "Hello {first}, I'm recruiting for a senior {function} role in {topic}. Would you be open to new opportunities?",
        "Hi {first}, are you looking for a new challenge? I have several {function} roles that match your profile.",
    ],
    "favour": [
        "Hi {first}, I admire your career. Could you spare 20 minutes to give me advice on breaking into {topic}?",
        "Hello {first}, I'm looking for a mentor in {topic}. Would you be willing to review my CV?",
        "Hi {first}, I'm applying to {rcompany}. Could you refer me for an open {function} position?",
        "Hi {first}, I'm new to {topic} and would really appreciate any guidance you could give me.",
    ],
    "peer": [
        "Hi {first}, we're in the same space - would love to compare notes on {topic} sometime.",
        "Hi {first}, always good to connect with others working on {topic}. How is your team approaching it this year?",
        "Hello {first}, I lead {function} at {company}; curious how {rcompany} handles {topic}.",
    ],
    "spam": [
        "Hello dear, I came across your profile and I have a lucrative investment opportunity for you. Reply for details.",
        "Earn $5,000 a week from home with our proven crypto trading system! Connect to learn more.",
        "Hi, I am a private fund manager looking for partners. Kindly message me on WhatsApp.",
        "Greetings {first}, I have a business proposal that will benefit both of us. Kindly get back to me.",
        "Hi {first}, want to grow your network by 10,000 followers in 30 days? Guaranteed results, DM me.",
    ],
}

SPAM_HEADLINES = ["Crypto & Forex Investment Advisor | Financial Freedom",
                  "Entrepreneur | Investor | Philanthropist",
                  "CEO at Global Wealth Partners",
                  "Helping people earn passive income online",
                  "Business Development | Import Export | Oil & Gas"]


def pick(rng: random.Random, weights: dict):
    """Weighted choice over a dict of item -> weight (insertion order is stable)."""
    items = list(weights.keys())
    return rng.choices(items, weights=[weights[k] for k in items], k=1)[0]


def clamp(x: float, lo: float, hi: float) -> float:
    return max(lo, min(hi, x))


# ---------------------------------------------------------------------------
# Members
# ---------------------------------------------------------------------------
@dataclass
class Member:
    id: str
    tenant: dict
    first: str
    kind: str                      # sender kind
    function: str
    region: str
    # Public profile at the world's start (mutable through `versions`).
    has_photo: bool
    completeness: float
    headline: str
    industry: str
    company: str
    seniority: str
    utc_offset: int
    conn0: int                     # connections at the world's start
    conn_rate: float               # organic connection growth per day
    followers0: int
    follower_rate: float
    age0: int                      # account age in days at the world's start
    spam0: int                     # spam reports before the world's start
    # Hidden traits as a sender.
    fake_vibe: float               # how "off" the account feels beyond the visible
    pushiness: float               # how hard the notes ask
    tidy: bool                     # withdraws stale invitations
    persistence: float             # chance of retrying a pair
    advised: bool                  # retries the way the advice says
    automated: bool                # sends at any hour (tools, bots)
    # Hidden traits as a recipient.
    scrutiny: float
    pitch_aversion: float
    guard: float
    wariness: float
    openness: float                # < 1: accepts more; > 1: stricter overall
    curiosity: float               # chance of looking a sender up
    style: str                     # "ignore", "decline" or "leave"
    activity_gap: float            # mean seconds between check-ins (inf: never)
    attention: float               # chance an invitation is noticed at a check-in
    bulk_ignorer: bool             # cleans a long-neglected inbox without reading
    work_only: bool                # no check-ins on weekends
    active_start: int
    active_end: int
    crunch_seed: int
    # Timelines (seconds since epoch).
    versions: list = field(default_factory=list)   # [(t, {field: value})]
    accept_times: list = field(default_factory=list)
    report_times: list = field(default_factory=list)
    checkins: list = field(default_factory=list)
    checkin_rng: random.Random | None = None
    restricted_at: float = math.inf
    replaced_by: "Member | None" = None   # a fake's next account once restricted

    def rank(self, t: float) -> float:
        return SENIORITY_RANK[self.attr("seniority", t)]

    def attr(self, name: str, t: float):
        """A profile field as it was at time t."""
        value = getattr(self, name)
        for vt, changes in self.versions:
            if vt > t:
                break
            value = changes.get(name, value)
        return value

    def connections(self, t: float) -> int:
        days = max(0.0, (t - WORLD_START) / DAY)
        bonus = 0
        for vt, changes in self.versions:
            if vt <= t:
                bonus += changes.get("conn_bonus", 0)
        return int(self.conn0 + self.conn_rate * days + bonus
                   + bisect.bisect_right(self.accept_times, t))

    def followers(self, t: float) -> int:
        days = max(0.0, (t - WORLD_START) / DAY)
        return int(self.followers0 + self.follower_rate * days)

    def spam_reports(self, t: float) -> int:
        return self.spam0 + bisect.bisect_right(self.report_times, t)

    def snapshot(self, t: float) -> dict:
        """The ProfileSnapshot (as protobuf JSON) at time t. Default values are
        left out, as protobuf's JSON printer does."""
        days = int(max(0, t - WORLD_START) // DAY)
        snap = {
            "hasPhoto": self.attr("has_photo", t),
            "connectionCount": str(min(self.connections(t), 100_000_000)),
            "followerCount": str(self.followers(t)),
            "completeness": round(self.attr("completeness", t), 2),
            "accountAgeDays": clamp(self.age0 + days, 0, 36500),
            "headline": self.attr("headline", t)[:300],
            "industry": self.attr("industry", t)[:120],
            "company": self.attr("company", t)[:120],
            "seniority": self.attr("seniority", t),
            "utcOffsetMinutes": self.utc_offset,
            "spamReports": self.spam_reports(t),
        }
        return drop_defaults(snap)

    # -- the recipient's rhythm -------------------------------------------
    def local(self, t: float) -> tuple[int, int]:
        """(local hour, weekday with Monday = 0) at time t."""
        lt = int(t) + self.utc_offset * MINUTE
        return (lt // HOUR) % 24, ((lt // DAY) + 3) % 7   # 1970-01-01 was a Thursday

    def _snap_active(self, t: float) -> float:
        """Move t forward into the member's active hours."""
        for _ in range(24 * 8):
            hour, wday = self.local(t)
            if (self.active_start <= hour < self.active_end
                    and not (self.work_only and wday >= 5)):
                return t
            t = (t // HOUR + 1) * HOUR + self.checkin_rng.uniform(0, 50 * MINUTE)
        return t

    def checkin_after(self, t: float) -> tuple[float, int]:
        """The first check-in strictly after t and its index (inf if none)."""
        if math.isinf(self.activity_gap):
            return math.inf, -1
        while not self.checkins or self.checkins[-1] <= t:
            last = self.checkins[-1] if self.checkins else WORLD_START - self.activity_gap
            nxt = last + self.checkin_rng.expovariate(1.0 / self.activity_gap) + 5 * MINUTE
            self.checkins.append(self._snap_active(nxt))
        i = bisect.bisect_right(self.checkins, t)
        return self.checkins[i], i

    def gap_before(self, i: int) -> float:
        """Time since the check-in before check-in i."""
        return self.checkins[i] - self.checkins[i - 1] if i > 0 else math.inf

    def in_crunch(self, t: float) -> bool:
        """A busy week at work: every approach lands at the wrong time."""
        week = int(t // (7 * DAY))
        return random.Random(f"{self.crunch_seed}:{week}").random() < 0.10


def drop_defaults(d: dict) -> dict:
    """Leave out proto3 default values (false, 0, "", empty) like protobuf's JSON printer."""
    out = {}
    for k, v in d.items():
        if v is False or v is None or v == "" or v == [] or v == {}:
            continue
        if isinstance(v, (int, float)) and not isinstance(v, bool) and v == 0:
            continue
        if v == "0" and k in ("connectionCount", "followerCount"):
            continue
        if k == "seniority" and v == "SENIORITY_UNSPECIFIED":
            continue
        if isinstance(v, float) and v.is_integer():
            v = int(v)   # protobuf prints 1.0 as 1
        out[k] = v
    return out


def make_title(rng: random.Random, function: str, seniority: str) -> str:
    if seniority == "SENIORITY_ENTRY":
        return rng.choice([f"Junior {function} Associate", f"{function} Analyst",
                           f"{function} Intern", f"Graduate {function} Trainee"])
    if seniority == "SENIORITY_SENIOR":
        return rng.choice([f"Senior {function} Specialist", f"{function} Lead",
                           f"Senior {function} Consultant"])
    if seniority == "SENIORITY_MANAGER":
        return rng.choice([f"{function} Manager", f"{function} Team Lead"])
    if seniority == "SENIORITY_DIRECTOR":
        return rng.choice([f"Director of {function}", f"Head of {function}"])
    if seniority == "SENIORITY_VP":
        return rng.choice([f"VP {function}", f"Vice President, {function}"])
    if seniority == "SENIORITY_CXO":
        return rng.choice(["CEO", "COO", "CFO", "CTO", "CMO", "Chief Strategy Officer"])
    if seniority == "SENIORITY_OWNER":
        return rng.choice(["Founder", "Co-founder & CEO", "Owner", "Managing Partner"])
    return function


def make_headline(rng: random.Random, title: str, company: str, topics: list) -> str:
    r = rng.random()
    if r < 0.5 and company:
        return f"{title} at {company}"
    if r < 0.8:
        return f"{title} | {rng.choice(topics).title()}"
    a, b = rng.sample(topics, 2)
    return f"{title} | {a.title()} | {b.title()}"


def lognormal(rng: random.Random, median: float, sigma: float) -> float:
    return median * math.exp(rng.gauss(0, sigma))


class World:
    """Builds members, simulates requests and collects events."""

    def __init__(self, seed: int, n_requests: int, n_tenants: int, mix: dict):
        self.rng = random.Random(seed)
        self.seed = seed
        self.n_requests = n_requests
        self.tenants = TENANTS[:n_tenants]
        self.mix = mix
        self.members: dict[str, list[Member]] = {}    # tenant id -> members
        self.by_kind: dict[tuple, list[Member]] = {}  # (tenant id, kind) -> members
        self.pairs: dict[tuple, list[dict]] = {}      # (tenant, sender, recipient) -> requests
        self.events: list[tuple] = []                 # (t, seq, event dict, truth)
        self.seq = 0
        self.req_counter = 0
        # Counts of looked-at declines (not bulk ignores), for the summary.
        self.stats = {"declines_decided": 0, "declines_after_view": 0, "declines_mixed_cause": 0}
        per_tenant = max(120, int(n_requests * 0.5 / n_tenants))
        for tenant in self.tenants:
            self._make_population(tenant, per_tenant)

    # -- population -----------------------------------------------------------
    def _make_population(self, tenant: dict, n: int) -> None:
        rng = self.rng
        members = []
        companies = [c for g in tenant["rival_groups"] for c in g] + tenant["others"]
        for i in range(n):
            kind = pick(rng, KIND_POPULATION)
            members.append(self._make_member(tenant, f"{tenant['id'][:3]}{i:05d}", kind,
                                             companies))
        self.members[tenant["id"]] = members
        for kind in KIND_POPULATION:
            self.by_kind[(tenant["id"], kind)] = [m for m in members if m.kind == kind]
        # Some members change jobs during the world (company, headline, maybe
        # seniority): a ProfileUpdated event, and new rivals.
        for m in members:
            if m.kind != "fake" and rng.random() < 0.08:
                t = WORLD_START + rng.uniform(10, SEND_WINDOW_DAYS + 60) * DAY
                self._job_change(m, t, companies)

    def _make_member(self, tenant: dict, mid: str, kind: str, companies: list) -> Member:
        rng = self.rng
        region = pick(rng, tenant["regions"])
        offsets = REGION_OFFSETS[region]
        utc_offset = rng.choices([o for o, _ in offsets], [w for _, w in offsets])[0]
        function = rng.choice(tenant["functions"])
        industry = tenant["industry"]
        company = rng.choice(companies)
        seniority = pick(rng, {"SENIORITY_ENTRY": 15, "SENIORITY_SENIOR": 30,
                               "SENIORITY_MANAGER": 22, "SENIORITY_DIRECTOR": 12,
                               "SENIORITY_VP": 7, "SENIORITY_CXO": 4, "SENIORITY_OWNER": 8,
                               "SENIORITY_UNSPECIFIED": 2})
        has_photo = rng.random() < 0.9
        completeness = clamp(rng.gauss(0.78, 0.12), 0.3, 1.0)
        age0 = int(rng.uniform(200, 5000))
        fake_vibe = rng.uniform(0.0, 0.1)
        spam0 = 0
        headline = None
        median_conn = {"SENIORITY_ENTRY": 150, "SENIORITY_SENIOR": 400,
                       "SENIORITY_MANAGER": 600, "SENIORITY_DIRECTOR": 900,
                       "SENIORITY_VP": 1500, "SENIORITY_CXO": 2500,
                       "SENIORITY_OWNER": 1200, "SENIORITY_UNSPECIFIED": 200}[seniority]
        conn0 = int(lognormal(rng, median_conn, 0.8))

        if kind == "newcomer":
            # Genuine, but thin: new account, few connections, often no photo.
            seniority = pick(rng, {"SENIORITY_ENTRY": 70, "SENIORITY_SENIOR": 20,
                                   "SENIORITY_UNSPECIFIED": 10})
            has_photo = rng.random() < 0.5
            completeness = clamp(rng.gauss(0.42, 0.12), 0.1, 0.8)
            age0 = int(rng.uniform(1, 200))
            conn0 = int(rng.uniform(0, 60))
            fake_vibe = rng.uniform(0.05, 0.3)
        elif kind == "fake":
            # Fake or spam accounts: some are crude, some are polished.
            polished = rng.random() < 0.3
            seniority = pick(rng, {"SENIORITY_CXO": 25, "SENIORITY_OWNER": 30,
                                   "SENIORITY_UNSPECIFIED": 25, "SENIORITY_DIRECTOR": 10,
                                   "SENIORITY_SENIOR": 10})
            has_photo = rng.random() < (0.85 if polished else 0.35)
            completeness = clamp(rng.gauss(0.65 if polished else 0.3, 0.12), 0.05, 0.95)
            age0 = int(rng.uniform(700, 2500)) if polished else int(rng.uniform(1, 120))
            conn0 = int(rng.uniform(300, 2500)) if polished else int(rng.uniform(0, 45))
            fake_vibe = rng.uniform(0.7, 1.6)
            spam0 = rng.choice([0, 0, 0, 1, 2, 3]) if not polished else 0
            company = rng.choice(FAKE_COMPANIES) if not polished else rng.choice(companies)
            industry = rng.choice([industry, "Investment Management", "International Trade",
                                   ""])
            if not polished:
                headline = rng.choice(SPAM_HEADLINES)
        elif kind == "sales":
            seniority = pick(rng, {"SENIORITY_SENIOR": 50, "SENIORITY_MANAGER": 30,
                                   "SENIORITY_DIRECTOR": 15, "SENIORITY_VP": 5})
            function = "Sales"
            if rng.random() < 0.7:       # a vendor selling into the industry
                company, industry = rng.choice(VENDORS), "Information Technology & Services"
            conn0 = int(lognormal(rng, 1500, 0.6))
        elif kind == "recruiter":
            seniority = pick(rng, {"SENIORITY_SENIOR": 50, "SENIORITY_MANAGER": 35,
                                   "SENIORITY_DIRECTOR": 15})
            function = "Talent Acquisition"
            if rng.random() < 0.65:      # an agency; otherwise in-house
                company, industry = rng.choice(AGENCIES), "Staffing & Recruiting"
            conn0 = int(lognormal(rng, 4000, 0.6))
            has_photo = rng.random() < 0.96
        elif kind == "climber":
            seniority = pick(rng, {"SENIORITY_ENTRY": 40, "SENIORITY_SENIOR": 40,
                                   "SENIORITY_MANAGER": 20})
            conn0 = int(lognormal(rng, 250, 0.7))
        elif kind == "rival":
            # Works at one of the directly competing companies, in a customer-
            # facing or product function, and reaches out to counterparts.
            group = rng.choice(tenant["rival_groups"])
            company = rng.choice(group)
            function = rng.choice(["Sales", "Product", tenant["functions"][0], "Marketing"])
            seniority = pick(rng, {"SENIORITY_SENIOR": 30, "SENIORITY_MANAGER": 35,
                                   "SENIORITY_DIRECTOR": 25, "SENIORITY_OWNER": 10})

        title = make_title(rng, function, seniority)
        if headline is None:
            headline = make_headline(rng, title, company, tenant["topics"])
        if kind == "recruiter" and rng.random() < 0.5:
            headline = f"{title} | Hiring {rng.choice(tenant['functions'])} talent | {company}"

        # Followers: mostly a fraction of connections, plus a few influencers.
        followers0 = int(conn0 * lognormal(rng, 1.3, 0.5))
        if kind not in ("fake", "newcomer") and rng.random() < 0.04:
            followers0 += int(lognormal(rng, 25000, 1.0))

        # Recipient dispositions.
        rank = SENIORITY_RANK[seniority]
        lion = rng.random() < 0.06       # open networker: accepts nearly everyone
        scrutiny = lognormal(rng, 1.0, 0.3) * (1.3 if rank >= 5 else 1.0)
        pitch_aversion = lognormal(rng, 1.0, 0.35) * (1 + 0.15 * max(0.0, rank - 3))
        guard_base = {1.0: 0.15, 1.5: 0.3, 2.0: 0.25, 3.0: 0.35, 4.0: 0.55, 5.0: 0.8,
                      6.0: 1.1}[rank]
        guard = guard_base * (1 + 0.25 * max(0.0, math.log10(max(followers0, 1) / 1000)))
        guard *= lognormal(rng, 1.0, 0.4)
        wariness = 0.3
        if seniority in ("SENIORITY_OWNER", "SENIORITY_CXO"):
            wariness = 0.9
        if function in ("Sales", "Product", "Strategy", "Account Management"):
            wariness = max(wariness, 0.8)
        wariness *= lognormal(rng, 1.0, 0.5)
        if rng.random() < 0.25:
            wariness *= 0.1
        openness = lognormal(rng, 1.0, 0.3)
        if lion:
            guard *= 0.15
            openness = 0.3
        activity = pick(rng, {"daily": 58, "regular": 20, "occasional": 10, "dormant": 7,
                              "never": 5} if rank < 5 else
                        {"daily": 35, "regular": 25, "occasional": 20, "dormant": 12,
                         "never": 8})
        gap = {"daily": 5 * HOUR, "regular": 2 * DAY, "occasional": 10 * DAY,
               "dormant": 120 * DAY, "never": math.inf}[activity]
        popular = followers0 > 5000 or rank >= 6
        m = Member(
            id=mid, tenant=tenant, first=rng.choice(FIRST_NAMES), kind=kind,
            function=function, region=region, has_photo=has_photo,
            completeness=completeness, headline=headline, industry=industry,
            company=company, seniority=seniority, utc_offset=utc_offset, conn0=conn0,
            conn_rate=(rng.uniform(0.3, 2.0) if kind == "newcomer"
                       else rng.uniform(0.0, 0.4)),
            followers0=followers0, follower_rate=rng.uniform(0.0, 0.5), age0=age0,
            spam0=spam0, fake_vibe=fake_vibe,
            pushiness=lognormal(rng, 1.0, 0.25),
            tidy=rng.random() < {"sales": 0.5, "recruiter": 0.5, "networker": 0.2,
                                 "newcomer": 0.15, "fake": 0.03, "climber": 0.25,
                                 "rival": 0.3}[kind],
            persistence={"sales": 0.35, "recruiter": 0.2, "networker": 0.25,
                         "newcomer": 0.35, "fake": 0.1, "climber": 0.3,
                         "rival": 0.2}[kind],
            advised=rng.random() < 0.4,
            automated=kind == "fake" or (kind == "sales" and rng.random() < 0.3),
            scrutiny=scrutiny, pitch_aversion=pitch_aversion, guard=guard,
            wariness=wariness, openness=openness, curiosity=rng.uniform(0.45, 1.0),
            style=pick(rng, {"ignore": 58, "decline": 27, "leave": 15}),
            activity_gap=gap,
            attention=rng.uniform(0.3, 0.7) if popular else rng.uniform(0.85, 1.0),
            bulk_ignorer=activity in ("occasional", "dormant") and rng.random() < 0.25,
            work_only=rng.random() < 0.35,
            active_start=rng.randint(6, 9), active_end=rng.randint(21, 24),
            crunch_seed=rng.getrandbits(32),
        )
        m.checkin_rng = random.Random(f"{self.seed}:checkins:{mid}")
        return m

    def _job_change(self, m: Member, t: float, companies: list) -> None:
        rng = self.rng
        changes = {"company": rng.choice([c for c in companies if c != m.company])}
        seniority = m.seniority
        if seniority in SENIORITY_LADDER[:-1] and rng.random() < 0.4:
            seniority = SENIORITY_LADDER[SENIORITY_LADDER.index(seniority) + 1]
            changes["seniority"] = seniority
        changes["headline"] = make_headline(rng, make_title(rng, m.function, seniority),
                                            changes["company"], m.tenant["topics"])
        self._update_profile(m, t, changes)

    def _update_profile(self, m: Member, t: float, changes: dict) -> None:
        """Apply a profile change at time t and emit ProfileUpdated."""
        t = float(int(t))   # whole seconds, as the event's timestamp
        m.versions.append((t, changes))
        m.versions.sort(key=lambda v: v[0])
        names = {"has_photo": "has_photo", "completeness": "completeness",
                 "company": "company", "headline": "headline", "seniority": "seniority",
                 "conn_bonus": "connection_count"}
        changed = [names[k] for k in changes]
        self._emit(t, m.tenant["id"], m.id, "", "profileUpdated",
                   {"profile": None, "changedFields": changed}, member=m)

    # -- events ---------------------------------------------------------------
    def _emit(self, t: float, tenant: str, sender: str, recipient: str, kind: str,
              payload: dict, truth: str | None = None, member: Member | None = None):
        self.seq += 1
        self.events.append((int(t), self.seq, tenant, sender, recipient, kind, payload,
                            truth, member))

    # -- the recipient's choice of target ---------------------------------------
    def _target_weight(self, s: Member, r: Member, t: float) -> float:
        same_ind = r.attr("industry", t) == s.attr("industry", t)
        rs, rr = s.rank(t), r.rank(t)
        rivals = self._rivalry(s, r, t) >= 1.0
        k = s.kind
        if k == "networker":
            w = (3 if same_ind else 1) * (2 if abs(rr - rs) <= 1 else 0.7)
            if r.attr("company", t) == s.attr("company", t):
                w *= 2.5
            return w
        if k == "newcomer":
            return (2 if rr <= 2 else 1.5 if rr <= 3 else 0.6) * (2 if same_ind else 1)
        if k == "sales":
            return {1.0: 0.2, 1.5: 0.2, 2.0: 0.3, 3.0: 1.5, 4.0: 2.5, 5.0: 2.5,
                    6.0: 1.5}[rr]
        if k == "recruiter":
            return {1.0: 0.8, 1.5: 0.3, 2.0: 2.5, 3.0: 2.0, 4.0: 1.2, 5.0: 0.3,
                    6.0: 0.2}[rr]
        if k == "climber":
            w = {4.0: 3, 5.0: 4, 6.0: 5}.get(rr, 0.1)
            return w * (2 if r.followers(t) > 5000 else 1)
        if k == "rival":
            if rivals and r.function == s.function:
                return 6
            return 1.5 if rivals else 0.1
        return (1.5 if rr >= 4 else 1.0) * (1.3 if r.connections(t) > 1000 else 1.0)

    def _choose_recipient(self, s: Member, t: float) -> Member | None:
        pool = self.members[s.tenant["id"]]
        cands = []
        for r in self.rng.sample(pool, min(40, len(pool))):
            if r is s or r.kind == "fake":
                continue
            if (s.tenant["id"], s.id, r.id) in self.pairs or \
                    (s.tenant["id"], r.id, s.id) in self.pairs:
                continue
            cands.append(r)
        if not cands:
            return None
        weights = [self._target_weight(s, r, t) for r in cands]
        return self.rng.choices(cands, weights=weights, k=1)[0]

    # -- request contents -------------------------------------------------------
    def _note(self, s: Member, r: Member, style: str, t: float) -> tuple[str, float]:
        """A note of the given style and how much it asks before it gives."""
        rng = self.rng
        if style == "none":
            return "", 0.0
        tenant = s.tenant
        tmpl = rng.choice(NOTE_TEMPLATES[style])
        fill = dict(first=r.first, event=rng.choice(tenant["events"]),
                    topic=rng.choice(tenant["topics"]), rcompany=r.attr("company", t) or
                    "your company", company=s.attr("company", t) or "my company",
                    industry=tenant["industry"].lower(), function=r.function.lower(),
                    mutual=rng.choice(FIRST_NAMES))
        note = tmpl.format(**fill)
        if style == "pitch" and rng.random() < 0.45:
            # A long pitch: extra selling sentences.
            for tail in rng.sample(NOTE_TEMPLATES["pitch_tail"], rng.randint(1, 3)):
                note += tail
        if rng.random() < 0.15 and style not in ("spam",):
            note = note.replace("Hi ", "Hey ", 1)
        mean, spread = NOTE_ASK[style]
        ask = max(0.0, rng.gauss(mean, spread))
        if style in ("pitch", "recruit", "favour"):
            ask *= s.pushiness
        return note[:300], ask

    def _mutuals(self, s: Member, r: Member, t: float, channel: str) -> int:
        """Connections the two share: more for colleagues, peers, people who know each other."""
        base = math.sqrt(max(1, s.connections(t)) * max(1, r.connections(t))) / 120.0
        prox = 0.3
        if s.attr("industry", t) == r.attr("industry", t):
            prox = 1.0
        if s.attr("company", t) == r.attr("company", t) and s.attr("company", t):
            prox = 4.0
        if channel in ("CHANNEL_IMPORT", "CHANNEL_EVENT"):
            prox *= 1.8
        if s.kind == "fake":
            prox *= 0.15
        lam = base * prox * lognormal(self.rng, 1.0, 0.7)
        # A Poisson-like draw without a loop for large means.
        n = max(0, int(round(self.rng.gauss(lam, math.sqrt(lam) + 0.3))))
        return min(n, 100000)

    def _send_time(self, s: Member, t: float) -> float:
        """Genuine people send in their own working hours; automation sends at any hour."""
        if s.automated:
            return t
        weekend_ok = self.rng.random() < 0.15
        hour, wday = s.local(t)
        if 8 <= hour < 20 and (wday < 5 or weekend_ok):
            return t
        # Otherwise the next working day's session, most often mid-morning.
        off = s.utc_offset * MINUTE
        day0 = (int(t) + off) // DAY * DAY - off      # local midnight, as UTC
        for d in range(8):
            start = day0 + d * DAY + 8 * HOUR + self.rng.triangular(0, 12, 2) * HOUR
            _, wday = s.local(start)
            if start > t and (wday < 5 or weekend_ok):
                return start
        return t

    # -- what the recipient thinks -------------------------------------------
    def _rivalry(self, s: Member, r: Member, t: float) -> float:
        """How much of a competitor s looks to r: rival companies, same function."""
        sc, rc = s.attr("company", t), r.attr("company", t)
        if not sc or not rc or sc == rc:
            return 0.0
        groups = r.tenant["rival_groups"]
        direct = any(sc in g and rc in g for g in groups)
        same_fn = s.function == r.function
        if direct:
            return 1.4 if same_fn else 0.6
        if s.attr("industry", t) == r.attr("industry", t) and same_fn:
            return 0.25
        return 0.0

    def _spam_look(self, s: Member, t: float, viewed: bool) -> float:
        """How fake the sender looks: the card alone, or the whole profile when looked up."""
        conn = s.connections(t)
        card = (1.0 if not s.attr("has_photo", t) else 0.0)
        card += 1.0 if conn < 10 else 0.6 if conn < 50 else 0.2 if conn < 150 else 0.0
        card += 0.5 if s.attr("headline", t) in SPAM_HEADLINES else 0.0
        card += 0.3 if s.attr("seniority", t) == "SENIORITY_UNSPECIFIED" else 0.0
        if not viewed:
            return card + 0.5 * s.fake_vibe
        age = s.age0 + (t - WORLD_START) / DAY
        deep = 0.9 * (1 - s.attr("completeness", t))
        deep += 0.6 if age < 30 else 0.25 if age < 180 else 0.0
        deep += 0.45 * min(s.spam_reports(t), 6)
        return card + deep + s.fake_vibe

    def _pressures(self, req: dict, t_seen: float, viewed: bool) -> dict:
        s, r, t = req["s"], req["r"], req["t"]
        aff = 0.35 * math.log1p(req["mutual"])
        if req["style"] == "personal":
            aff += 0.6
        elif req["style"] == "value":
            aff += 0.35
        if s.attr("company", t) == r.attr("company", t) and s.attr("company", t):
            aff += 1.0
        if req["channel"] == "CHANNEL_IMPORT":
            aff += 0.8
        elif req["channel"] == "CHANNEL_EVENT":
            aff += 0.3
        if s.followers(t) > 10000:
            aff += 0.3
        o = r.openness

        look = self._spam_look(s, t, viewed)
        spam = 0.8 * r.scrutiny * o * math.exp(-0.5 * aff) * max(0.0, look - 0.4) ** 1.2

        timing = 0.0
        hour, wday = r.local(t)
        if hour < 6:
            timing += 0.3        # sent in the recipient's night: feels automated
        if r.work_only and wday >= 5:
            timing += 0.15
        if r.in_crunch(t_seen):
            timing += 0.5        # a busy week: any approach is ill-timed
        if req["retry_soon"]:
            timing += 1.2        # asked again too soon after being turned down
        long_note = 0.35 if len(req["note"]) > 200 else 0.0
        off = 0.75 * r.pitch_aversion * o * math.exp(-0.7 * aff) * (req["ask"] + long_note
                                                                     + timing)

        rivalry = self._rivalry(s, r, t) + (0.4 if s.kind == "rival" else 0.0)
        comp = 1.1 * r.wariness * o * math.exp(-0.4 * aff) * rivalry

        gap = max(0.0, r.rank(t) - s.rank(t))
        fol = max(0.0, math.log10((r.followers(t) + 50) / (s.followers(t) + 50)))
        guard = r.guard * o * math.exp(-aff) * (0.3 + 0.35 * gap + 0.35 * fol)
        return {SPAMMY: spam, OFF_TARGET: off, COMPETITOR: comp, GUARD: guard}

    # -- one request's life -------------------------------------------------
    def _new_request(self, s: Member, r: Member, t: float, style: str | None = None,
                     channel: str | None = None, previous: dict | None = None) -> dict:
        rng = self.rng
        channel = channel or pick(rng, CHANNELS[s.kind])
        if style is None:
            style = pick(rng, NOTE_STYLES[s.kind])
            if channel == "CHANNEL_EVENT" and s.kind != "fake" and rng.random() < 0.5:
                style = "personal"
        note, ask = self._note(s, r, style, t)
        self.req_counter += 1
        retry_soon = False
        if previous is not None and previous["outcome"] in ("declined", "withdrawn"):
            retry_soon = t - previous["end"] < REINVITE_BLOCK_DAYS * DAY
        return dict(id=f"wreq-{self.req_counter}", s=s, r=r, t=t, channel=channel,
                    style=style, note=note, ask=ask, mutual=self._mutuals(s, r, t, channel),
                    retry_soon=retry_soon, attempt=(previous["attempt"] + 1) if previous
                    else 1)

    def _play(self, req: dict) -> None:
        """Decide and emit everything that happens to one request."""
        rng = self.rng
        s, r, t = req["s"], req["r"], req["t"]
        tid = s.tenant["id"]
        self._emit(t, tid, s.id, r.id, "requestSent", dict(
            requestId=req["id"], note=req["note"], channel=req["channel"],
            senderProfile=s.snapshot(t), recipientProfile=r.snapshot(t),
            mutualConnections=req["mutual"]))
        self.pairs.setdefault((tid, s.id, r.id), []).append(req)

        expire_at = t + EXPIRY_DAYS * DAY + rng.uniform(0, 2 * DAY)
        withdraw_at = math.inf
        if s.tidy:
            withdraw_at = t + rng.uniform(REINVITE_BLOCK_DAYS, 100) * DAY
        deadline = min(expire_at, withdraw_at)

        # When does the recipient notice it? At a check-in, if it catches their eye.
        t_seen, idx = r.checkin_after(t)
        while t_seen < deadline and rng.random() > r.attention:
            t_seen, idx = r.checkin_after(t_seen)
        if t_seen >= deadline:
            self._close_unanswered(req, expire_at, withdraw_at, NOT_SEEN)
            return

        # Back after weeks away: some clear the whole inbox without reading it.
        if r.bulk_ignorer and r.gap_before(idx) > 21 * DAY and \
                random.Random(f"{r.crunch_seed}:bulk:{idx}").random() < 0.4:
            self._decline(req, t_seen + rng.uniform(5, 90), "DECLINE_KIND_IGNORED",
                          NOT_SEEN)
            return

        # Do they look the sender up?
        p_view = r.curiosity * (0.65 + (0.3 if req["mutual"] < 3 else 0.0)
                                + (0.1 if req["note"] else 0.0))
        if self._spam_look(s, t, False) > 1.5:
            p_view *= 0.6        # obviously fake from the card alone
        viewed = rng.random() < min(0.97, p_view)
        t_now = t_seen + rng.uniform(5, 60)
        if viewed:
            t_now += rng.uniform(10, 240)
            view = {"requestId": req["id"]} if rng.random() < 0.85 else {}
            self._emit(t_now, tid, s.id, r.id, "profileViewed", view)
        # Most decide at once; some come back to it at a later check-in.
        if rng.random() < 0.85:
            t_decide = t_now + lognormal(rng, 60, 1.0)
        else:
            t_decide, _ = r.checkin_after(t_now + HOUR)
            t_decide += rng.uniform(5, 300)

        pressures = self._pressures(req, t_seen, viewed)
        fired = [k for k in MECHANISMS if rng.random() < 1 - math.exp(-pressures[k])]
        if t_decide >= deadline:
            # Seen, but they never got round to deciding before it lapsed.
            reason = max(fired, key=pressures.get) if fired else NOT_SEEN
            self._close_unanswered(req, expire_at, withdraw_at, reason)
            return
        if not fired:
            self._accept(req, t_decide)
            if rng.random() < 0.08:   # a look at the new connection afterwards
                self._emit(t_decide + rng.uniform(60, 3 * DAY), tid, s.id, r.id,
                           "profileViewed", {"requestId": req["id"]})
            return
        # Mixed causes: the strongest pressure that fired is the true reason.
        reason = max(fired, key=pressures.get)
        mixed = len(fired) > 1
        kind = self._decline_kind(req, reason, viewed)
        if kind is None:
            # Left pending on purpose: it expires (or is withdrawn) with the reason.
            self._close_unanswered(req, expire_at, withdraw_at, reason)
            return
        self.stats["declines_decided"] += 1
        self.stats["declines_after_view"] += viewed
        self.stats["declines_mixed_cause"] += mixed
        self._decline(req, t_decide, kind, reason)

    def _decline_kind(self, req: dict, reason: str, viewed: bool):
        """How the recipient turns it down; None: they just leave it pending."""
        rng, s, r = self.rng, req["s"], req["r"]
        if reason == SPAMMY:
            if self._spam_look(s, req["t"], viewed) > 2.0 and rng.random() < 0.45:
                return "DECLINE_KIND_REPORTED_SPAM"
            if req["mutual"] == 0 and rng.random() < 0.2:
                return "DECLINE_KIND_REPORTED_UNKNOWN"
        elif reason == OFF_TARGET:
            if req["ask"] >= 1.4 and rng.random() < 0.15:
                return "DECLINE_KIND_REPORTED_SPAM"
        elif req["mutual"] == 0 and rng.random() < 0.05:
            return "DECLINE_KIND_REPORTED_UNKNOWN"
        if r.style == "leave" and rng.random() < 0.8:
            return None
        if r.style == "decline" or (reason == COMPETITOR and rng.random() < 0.3):
            return "DECLINE_KIND_DECLINED"
        return "DECLINE_KIND_IGNORED"

    def _accept(self, req: dict, t: float) -> None:
        s, r = req["s"], req["r"]
        self._emit(t, s.tenant["id"], s.id, r.id, "requestAccepted", {"requestId": req["id"]})
        bisect.insort(s.accept_times, t)
        bisect.insort(r.accept_times, t)
        req.update(outcome="accepted", end=t)

    def _decline(self, req: dict, t: float, kind: str, reason: str) -> None:
        s, r = req["s"], req["r"]
        self._emit(t, s.tenant["id"], s.id, r.id, "requestDeclined",
                   {"requestId": req["id"], "kind": kind}, truth=reason)
        if kind == "DECLINE_KIND_REPORTED_SPAM":
            bisect.insort(s.report_times, t)
            # Too many reports: the platform restricts the account (from the
            # report that reached the limit; reports may arrive out of order).
            nth = RESTRICT_AFTER_REPORTS - s.spam0 - 1
            if 0 <= nth < len(s.report_times):
                s.restricted_at = s.report_times[nth]
        req.update(outcome="declined", end=t, kind=kind)
        self._maybe_retry(req)

    def _close_unanswered(self, req: dict, expire_at: float, withdraw_at: float,
                          reason: str) -> None:
        """Nobody answered: the sender withdraws it or it expires (truth: reason)."""
        s, r = req["s"], req["r"]
        tid = s.tenant["id"]
        if withdraw_at < expire_at:
            self._emit(withdraw_at, tid, s.id, r.id, "requestWithdrawn",
                       {"requestId": req["id"]})
            req.update(outcome="withdrawn", end=withdraw_at)
        else:
            self._emit(expire_at, tid, s.id, r.id, "requestExpired",
                       {"requestId": req["id"]}, truth=reason)
            req.update(outcome="expired", end=expire_at)
        self._maybe_retry(req)

    # -- retries and profile work ----------------------------------------------
    def _maybe_retry(self, req: dict) -> None:
        rng, s, r = self.rng, req["s"], req["r"]
        if req.get("kind") == "DECLINE_KIND_REPORTED_SPAM" or req["attempt"] >= 3:
            return
        if rng.random() >= s.persistence:
            return
        end = req["end"]
        if s.advised:
            # Build value, pick the timing, adjust the message.
            t = end + rng.uniform(21, 70) * DAY
            style = "value" if rng.random() < 0.5 else "personal" if rng.random() < 0.5 \
                else pick(rng, NOTE_STYLES[s.kind])
            if s.kind != "fake":
                self._profile_work(s, end + rng.uniform(2, 20) * DAY)
        else:
            # Unchanged, and often too soon.
            t = end + rng.uniform(2, 14) * DAY
            style = req["style"]
        if req["outcome"] == "withdrawn":
            t = max(t, end + REINVITE_BLOCK_DAYS * DAY + rng.uniform(0, 3 * DAY))
        if s.advised:
            t = self._good_time(r, t)
        self._push(t, ("retry", s, r, style, req["channel"], req))

    def _profile_work(self, s: Member, t: float) -> None:
        """The sender improves their profile (photo, completeness, connections)."""
        changes = {}
        if not s.attr("has_photo", t):
            changes["has_photo"] = True
        c = s.attr("completeness", t)
        if c < 0.85:
            changes["completeness"] = round(min(1.0, c + self.rng.uniform(0.15, 0.4)), 2)
        if s.connections(t) < 300:
            changes["conn_bonus"] = int(self.rng.uniform(40, 250))
        if changes:
            self._update_profile(s, t, changes)

    # -- the main loop ------------------------------------------------------
    def _push(self, t: float, item: tuple) -> None:
        self._heap_seq += 1
        heapq.heappush(self._heap, (t, self._heap_seq, item))

    def run(self) -> None:
        rng = self.rng
        self._heap: list = []
        self._heap_seq = 0
        # Sessions arrive as a Poisson process sized to fill the send window.
        mean_size = sum(self.mix[k] * sum(SESSION_SIZE[k]) / 2 for k in self.mix) / \
            sum(self.mix.values())
        n_sessions = self.n_requests / mean_size
        self._session_gap = SEND_WINDOW_DAYS * DAY / n_sessions
        # Pick the kind of each session so that requests follow the mix.
        self._session_kind_w = {k: self.mix[k] / (sum(SESSION_SIZE[k]) / 2)
                                for k in self.mix}
        self._push(WORLD_START, ("session",))
        # Newcomers add a photo on their own at some point (profile work).
        for tenant in self.tenants:
            for m in self.by_kind[(tenant["id"], "newcomer")]:
                if not m.has_photo and rng.random() < 0.4:
                    self._update_profile(m, WORLD_START + rng.uniform(5, SEND_WINDOW_DAYS)
                                         * DAY, {"has_photo": True})
        sent = 0
        while self._heap and sent < self.n_requests:
            t, _, item = heapq.heappop(self._heap)
            if item[0] == "session":
                self._start_session(t)
                self._push(t + rng.expovariate(1.0 / self._session_gap), ("session",))
            elif item[0] == "send":
                _, s = item
                if t >= s.restricted_at:
                    if s.kind != "fake":
                        continue
                    s = self._replacement(s, t)
                r = self._choose_recipient(s, t)
                if r is None:
                    continue
                self._play(self._new_request(s, r, t))
                sent += 1
            elif item[0] == "retry":
                _, s, r, style, channel, previous = item
                if t >= s.restricted_at:
                    continue
                self._play(self._new_request(s, r, t, style=style, channel=channel,
                                             previous=previous))
                sent += 1
        self.sent = sent

    def _replacement(self, s: Member, t: float) -> Member:
        """A restricted fake account's operator carries on from a fresh account."""
        while s.replaced_by is not None:
            s = s.replaced_by
        if t < s.restricted_at:
            return s
        tenant = s.tenant
        members = self.members[tenant["id"]]
        companies = [c for g in tenant["rival_groups"] for c in g] + tenant["others"]
        new = self._make_member(tenant, f"{tenant['id'][:3]}{len(members):05d}", "fake",
                                companies)
        if new.age0 < 200:   # a brand-new account, not a bought aged one
            # age0 is the age at the world's start, so negative for a later account.
            new.age0 = int(self.rng.uniform(0, 5)) - int(max(0.0, t - WORLD_START) // DAY)
        members.append(new)
        self.by_kind[(tenant["id"], "fake")].append(new)
        s.replaced_by = new
        return new

    def _good_time(self, r: Member, t: float) -> float:
        """A weekday morning in the recipient's time zone."""
        for _ in range(24 * 8):
            hour, wday = r.local(t)
            if wday < 5 and 8 <= hour < 11:
                return t + self.rng.uniform(0, 30 * MINUTE)
            t = (t // HOUR + 1) * HOUR
        return t

    def _start_session(self, t: float) -> None:
        rng = self.rng
        for _ in range(20):
            tenant = rng.choice(self.tenants)
            kind = pick(rng, self._session_kind_w)
            senders = [m for m in self.by_kind[(tenant["id"], kind)]
                       if t < m.restricted_at or kind == "fake"]
            if senders:
                break
        else:
            return
        s = rng.choice(senders)
        if t >= s.restricted_at:
            s = self._replacement(s, t)
        t = self._send_time(s, t)
        lo, hi = SESSION_SIZE[kind]
        for _ in range(rng.randint(lo, hi)):
            self._push(t, ("send", s))
            t += rng.uniform(20, 15 * MINUTE) if s.automated else rng.uniform(60, 40 * MINUTE)

    # -- output ---------------------------------------------------------------
    def write(self, events_path: str, truth_path: str) -> dict:
        """Write both files, events in time order; returns summary counts."""
        self.events.sort(key=lambda e: (e[0], e[1]))
        counts: dict = {"events": 0, "by_payload": {}, "truth": {}, "decline_kinds": {}}
        with open(events_path, "w", encoding="utf-8") as ev, \
                open(truth_path, "w", encoding="utf-8") as tr:
            for i, (t, _, tenant, sender, recipient, kind, payload, truth, member) in \
                    enumerate(self.events, 1):
                event_id = f"wg-{i}"
                if kind == "profileUpdated":
                    payload = {"profile": member.snapshot(t),
                               "changedFields": payload["changedFields"]}
                rec = {"eventId": event_id, "tenantId": tenant, "occurredAt": rfc3339(t),
                       "senderId": sender}
                if recipient:
                    rec["recipientId"] = recipient
                rec[kind] = drop_defaults(payload)
                ev.write(json.dumps(rec, ensure_ascii=False, separators=(",", ":")) + "\n")
                counts["events"] += 1
                counts["by_payload"][kind] = counts["by_payload"].get(kind, 0) + 1
                if kind == "requestDeclined":
                    k = payload["kind"]
                    counts["decline_kinds"][k] = counts["decline_kinds"].get(k, 0) + 1
                if truth is not None:
                    tr.write(json.dumps({"event_id": event_id, "tenant_id": tenant,
                                         "true_reason": truth}) + "\n")
                    counts["truth"][truth] = counts["truth"].get(truth, 0) + 1
        return counts


def rfc3339(t: float) -> str:
    return datetime.fromtimestamp(int(t), tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_mix(spec: str | None) -> dict:
    """'sales=0.3,fake=0.05' overrides the default share of requests per sender kind."""
    mix = dict(DEFAULT_MIX)
    if not spec:
        return mix
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        name, sep, value = part.partition("=")
        name = name.strip()
        if not sep or name not in mix:
            raise SystemExit(f"--mix: expected kind=weight with kind in "
                             f"{', '.join(mix)}; got {part!r}")
        try:
            w = float(value)
        except ValueError:
            raise SystemExit(f"--mix: weight of {name} is not a number: {value!r}")
        if w < 0:
            raise SystemExit(f"--mix: weight of {name} must be >= 0")
        mix[name] = w
    if sum(mix.values()) <= 0:
        raise SystemExit("--mix: at least one weight must be positive")
    return mix


def generate(seed: int, requests: int, out: str, truth: str, tenants: int = 4,
             mix: dict | None = None) -> dict:
    world = World(seed, requests, tenants, mix or dict(DEFAULT_MIX))
    world.run()
    counts = world.write(out, truth)
    counts["requests"] = world.sent
    counts.update(world.stats)
    return counts


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--requests", type=int, required=True,
                    help="connection requests to send (retries included)")
    ap.add_argument("--out", required=True, help="events file (protobuf JSON lines)")
    ap.add_argument("--truth", required=True, help="truth file (JSON lines)")
    ap.add_argument("--tenants", type=int, default=4, help=f"1..{len(TENANTS)} (default 4)")
    ap.add_argument("--mix", help="share of requests per sender kind, e.g. "
                    "'sales=0.3,fake=0.05' (kinds: " + ", ".join(DEFAULT_MIX) + ")")
    ap.add_argument("--quiet", action="store_true", help="no summary on stderr")
    args = ap.parse_args(argv)
    if not 1 <= args.tenants <= len(TENANTS):
        ap.error(f"--tenants must be 1..{len(TENANTS)}")
    if args.requests < 1:
        ap.error("--requests must be positive")
    counts = generate(args.seed, args.requests, args.out, args.truth, args.tenants,
                      parse_mix(args.mix))
    if not args.quiet:
        print(json.dumps(counts, indent=1, sort_keys=True), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
