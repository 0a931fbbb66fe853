#!/usr/bin/env python3
"""worldgen2: a second, independent synthetic world of connection requests.

    python3 tools/worldgen2/worldgen2.py --seed 7 --requests 20000 \
        --out events.jsonl --truth truth.jsonl [--tenants 5] [--quiet] [--stats]

Writes `rebound.v1.ConnectionEvent` lines (protobuf JSON) and a truth file with
one line per RequestDeclined / RequestExpired event:
    {"event_id": ..., "tenant_id": ..., "true_reason": "DECLINE_REASON_..."}

The generative story (README.md has the long form):

* Each tenant is a different platform (sales-outreach tool, recruiting CRM,
  alumni/academic network, freelance marketplace, B2B community) with its own
  industries, companies, offerings, time zones, languages and personas.
* Members carry hidden traits. Recipients check in on their own schedules
  (local time, weekday rhythm, busy weeks, vacations, dormant spells, churn);
  a request is noticed, or not, at one of those sessions.
* A noticed request is a discrete choice: utilities for "accept", "think about
  it later" and each decline motive (spammy, off-target, competitor, guard,
  plain stranger aversion), built from the recipient's hidden preferences and
  what they perceive (which depends on whether they open the sender's
  profile), plus a per-session mood and Gumbel noise. The chosen motive is the
  truth; a near-tie between motives or plain stranger aversion is UNDETERMINED.
* How a decline shows (ignore / decline / "I don't know" / spam report / left
  pending to expire) comes from the motive and the recipient's habits.
* Senders withdraw stale requests, retry (immediately, patiently, or after
  improving their profile), and their profiles change over time; the product's
  profile snapshots are sometimes stale or incomplete.

Standard library only; deterministic for a seed.
"""

import argparse
import bisect
import calendar
import heapq
import json
import math
import random
import sys
import time as _time_mod  # gmtime/strftime formatting only; the clock is never read

# --------------------------------------------------------------------------
# Constants of the world
# --------------------------------------------------------------------------

WORLD_START = calendar.timegm((2025, 1, 6, 0, 0, 0))   # a Monday, 00:00 UTC
SEND_WINDOW_DAYS = 240          # initial requests are planned in this window
EXPIRY_SECONDS = 183 * 86400    # pending invitations expire after ~6 months
DAY = 86400

R_SPAM = "DECLINE_REASON_SPAMMY_PROFILE"
R_OFF = "DECLINE_REASON_OFF_TARGET_APPROACH"
R_COMP = "DECLINE_REASON_PERCEIVED_COMPETITOR"
R_GUARD = "DECLINE_REASON_CREDIBILITY_GUARD"
R_NOTSEEN = "DECLINE_REASON_NOT_SEEN"
R_UND = "DECLINE_REASON_UNDETERMINED"
REASONS = (R_SPAM, R_OFF, R_COMP, R_GUARD, R_NOTSEEN, R_UND)

K_IGNORED = "DECLINE_KIND_IGNORED"
K_DECLINED = "DECLINE_KIND_DECLINED"
K_UNKNOWN = "DECLINE_KIND_REPORTED_UNKNOWN"
K_SPAM = "DECLINE_KIND_REPORTED_SPAM"

SENIORITY = ["SENIORITY_UNSPECIFIED", "SENIORITY_ENTRY", "SENIORITY_SENIOR",
             "SENIORITY_MANAGER", "SENIORITY_DIRECTOR", "SENIORITY_VP",
             "SENIORITY_CXO", "SENIORITY_OWNER"]
U, EN, SR, MG, DI, VP, CX, OW = range(8)
# How much standing a seniority gives in the eyes of others (owner = small shop).
SEN_RANK = {U: 1.0, EN: 0.0, SR: 1.0, MG: 2.0, DI: 3.0, VP: 4.0, CX: 5.0, OW: 3.0}

# The order of ProfileSnapshot fields (snake_case, as changed_fields names them).
PROFILE_FIELDS = ("has_photo", "connection_count", "follower_count", "completeness",
                  "account_age_days", "headline", "industry", "company", "seniority",
                  "utc_offset_minutes", "spam_reports")

# --------------------------------------------------------------------------
# Counter-based hashing: per-(member, day) draws that do not depend on the
# order in which requests are simulated.
# --------------------------------------------------------------------------

_MASK = (1 << 64) - 1


def _mix(x):
    x = (x + 0x9E3779B97F4A7C15) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


def hu(a, b, c=0):
    """A uniform in [0, 1) from three integers (splitmix64)."""
    return (_mix(_mix(_mix(a) ^ (b & _MASK)) ^ (c & _MASK)) >> 11) / 9007199254740992.0


def hgauss(a, b, c=0):
    u1 = max(hu(a, b, c), 1e-12)
    u2 = hu(a, b, c + 7919)
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


def sigmoid(z):
    return 1.0 / (1.0 + math.exp(-z))


def logit(p):
    p = min(max(p, 1e-4), 1 - 1e-4)
    return math.log(p / (1 - p))


def wchoice(rng, items):
    """Pick from [(value, weight), ...]."""
    total = 0.0
    for _, w in items:
        total += w
    x = rng.random() * total
    for v, w in items:
        x -= w
        if x < 0:
            return v
    return items[-1][0]


def gumbel(rng):
    return -math.log(-math.log(max(rng.random(), 1e-300)))


# --------------------------------------------------------------------------
# Vocabulary
# --------------------------------------------------------------------------

FIRST_NAMES = [
    "Ava", "Liam", "Noah", "Mia", "Sofia", "Lucas", "Emma", "Mateo", "Olivia", "Ethan",
    "Priya", "Arjun", "Wei", "Mei", "Yuki", "Hiro", "Fatima", "Omar", "Chloe", "Jonas",
    "Lena", "Felix", "Camille", "Hugo", "Inès", "Lucía", "Diego", "Valentina", "Joao",
    "Beatriz", "Thiago", "Ana", "Kwame", "Amara", "Tomás", "Sven", "Ingrid", "Marco",
    "Giulia", "Raj", "Ananya", "Daniel", "Grace", "Samuel", "Nora", "Elif", "Mehmet",
    "Zoe", "Isaac", "Hannah", "Leon", "Clara", "Mark", "Ruth", "Paolo", "Aisha", "Kofi",
    "Maya", "Oscar", "Julia", "Rosa", "Dmitri", "Katya", "Andrés", "Carmen", "Jin",
]

CITIES = ["Austin", "Berlin", "London", "Madrid", "São Paulo", "Toronto", "Lisbon",
          "Paris", "Bangalore", "Sydney", "Manila", "Mexico City", "Chicago", "New York",
          "Munich", "Lyon", "Bogotá", "Warsaw", "Singapore", "Denver"]

# Phrasebook per language. Every sentence kind carries hidden note attributes
# (pitch, value, personal, ask, recruit, scam) that the recipient reacts to.
PHRASES = {
    "en": {
        "greet": ["Hi {first},", "Hey {first}!", "Hello {first},", "{first} -", "Dear {first},",
                  "Hi there,", "Hey,", "Good morning {first},", "Hi {first} :)", "hi {first}"],
        "personal": [
            "we met at {event} last {when} - great chat about {rtopic}.",
            "loved your post on {rtopic}.",
            "saw your talk at {event}, the part about {rtopic} really stuck with me.",
            "{mutual} suggested I reach out to you.",
            "fellow {school} alum here!",
            "we were on the same {event} panel a while back.",
            "I noticed we both spent time at {rcompany}... small world.",
            "great to see another {city} person working on {rtopic}.",
            "your comment on {mutual}'s thread about {rtopic} was spot on.",
        ],
        "value": [
            "I put together a short write-up on {rtopic} - happy to send it over, no strings.",
            "we just published benchmark data on {rtopic}; thought it could help your team.",
            "happy to intro you to a couple of people doing {rtopic} if useful.",
            "if you're ever hiring for {role}, I know a few great people.",
            "I share a weekly digest on {rtopic} and can add you if you like.",
            "I'm hosting a small roundtable on {rtopic} next month - you'd be a great voice.",
        ],
        "pitch": [
            "I'd love to show you how {company} helps {audience} {benefit}.",
            "Do you have 15 minutes this week for a quick call?",
            "We help {audience} {benefit} - worth a chat?",
            "Are you the right person to talk to about {offering}?",
            "Quick question: who handles {offering} at {rcompany}?",
            "Our clients typically see {pct}% better results in the first quarter.",
            "Can I send you a 2-minute demo video?",
            "Let me know what time works for a call, I'm flexible.",
            "We're offering a free pilot to a few {industry} teams this month.",
        ],
        "recruit": [
            "I'm working on an exciting {role} opportunity with a {stage} {industry} company - open to a chat?",
            "your background in {rtopic} looks like a great fit for a role I'm hiring for.",
            "are you open to new opportunities? Fully remote, competitive package.",
            "we're growing the {rtopic} team at {company} and I'd love to tell you more.",
            "I have a confidential {role} search that matches your profile.",
        ],
        "ask": [
            "Could you refer me for the {role} opening at {rcompany}?",
            "Would you have 20 minutes to share advice on breaking into {rtopic}?",
            "I'd really appreciate your feedback on my portfolio.",
            "Would you be open to mentoring me? I'm just starting out in {rtopic}.",
            "Could you share my post with your network? It would mean a lot.",
            "Any chance you could introduce me to someone on the {rtopic} team?",
        ],
        "generic": [
            "I'd like to add you to my professional network.",
            "Let's connect!",
            "Looking forward to connecting.",
            "Always happy to connect with people in {industry}.",
            "I'm expanding my network in {industry} and your profile stood out.",
            "Would be great to be connected.",
        ],
        "scam": [
            "I have a business proposal that can double your income, reply for details.",
            "Interested in passive income through crypto trading? DM me.",
            "I came across your profile and I have an investment opportunity to share.",
            "Congratulations! You have been selected for an exclusive opportunity.",
            "hello dear, i want to discuss something important with you.",
            "Earn $5000 weekly from home, limited spots!!",
        ],
        "filler": [
            "I know you're busy, so I'll keep this short.",
            "I've been following {rcompany} for a while and really admire what you're building.",
            "I hope this message finds you well.",
            "I promise this isn't a generic message.",
            "Sorry for the cold outreach.",
        ],
        "close": ["Best, {me}", "Cheers, {me}", "Thanks!", "Best regards", "- {me}", "Talk soon",
                  "Thanks in advance, {me}", ""],
    },
    "de": {
        "greet": ["Hallo {first},", "Hi {first},", "Guten Tag {first},", "Servus {first}!"],
        "personal": ["wir haben uns auf der {event} kurz unterhalten.",
                     "ich habe deinen Beitrag zu {rtopic} gelesen - sehr spannend.",
                     "wir waren beide an der {school}.",
                     "{mutual} meinte, ich sollte mich bei dir melden."],
        "value": ["Ich habe eine kurze Übersicht zu {rtopic} erstellt, die ich gern teile.",
                  "Gern stelle ich dir ein paar Leute aus dem Bereich {rtopic} vor."],
        "pitch": ["Hätten Sie diese Woche 15 Minuten für ein kurzes Gespräch?",
                  "Wir unterstützen Unternehmen wie {rcompany} bei {offering}.",
                  "Darf ich Ihnen eine kurze Demo schicken?"],
        "recruit": ["Ich habe eine spannende Position als {role} - offen für einen Austausch?",
                    "Sind Sie offen für neue Herausforderungen?"],
        "ask": ["Könntest du mir ein paar Tipps zum Einstieg in {rtopic} geben?",
                "Würdest du mich für die Stelle bei {rcompany} empfehlen?"],
        "generic": ["Ich würde mich freuen, mich mit Ihnen zu vernetzen.", "Lass uns vernetzen!"],
        "scam": ["Ich habe ein lukratives Angebot für Sie, bitte melden Sie sich."],
        "filler": ["Ich weiß, Ihre Zeit ist knapp."],
        "close": ["Viele Grüße, {me}", "Beste Grüße", "LG {me}", ""],
    },
    "es": {
        "greet": ["Hola {first},", "Buenas {first}!", "Estimado/a {first},", "Hola!"],
        "personal": ["nos conocimos en {event}.",
                     "leí tu publicación sobre {rtopic}, muy interesante.",
                     "ambos estudiamos en {school}.",
                     "{mutual} me sugirió escribirte."],
        "value": ["Preparé una guía breve sobre {rtopic}; con gusto te la comparto.",
                  "Si te sirve, te presento a gente que trabaja en {rtopic}."],
        "pitch": ["¿Tienes 15 minutos esta semana para una llamada rápida?",
                  "Ayudamos a empresas como {rcompany} con {offering}.",
                  "Me encantaría mostrarte cómo {company} puede ayudarte."],
        "recruit": ["Tengo una oportunidad como {role} que podría interesarte.",
                    "¿Estás abierto/a a nuevas oportunidades?"],
        "ask": ["¿Podrías recomendarme para la vacante en {rcompany}?",
                "¿Me darías algún consejo para empezar en {rtopic}?"],
        "generic": ["Me gustaría agregarte a mi red profesional.", "¡Conectemos!"],
        "scam": ["Tengo una propuesta de negocio que te hará ganar mucho dinero."],
        "filler": ["Sé que estás ocupado/a, seré breve."],
        "close": ["Saludos, {me}", "Un abrazo", "Gracias!", ""],
    },
    "fr": {
        "greet": ["Bonjour {first},", "Salut {first} !", "Bonjour,"],
        "personal": ["nous nous sommes croisés à {event}.",
                     "j'ai lu votre article sur {rtopic}, très pertinent.",
                     "ancien(ne) de {school} moi aussi.",
                     "{mutual} m'a conseillé de vous contacter."],
        "value": ["J'ai rédigé une synthèse sur {rtopic}, je peux vous l'envoyer.",
                  "Je peux vous présenter quelques personnes qui travaillent sur {rtopic}."],
        "pitch": ["Auriez-vous 15 minutes cette semaine pour un échange rapide ?",
                  "Nous aidons des entreprises comme {rcompany} sur {offering}.",
                  "Puis-je vous envoyer une courte démo ?"],
        "recruit": ["J'ai une opportunité de {role} qui pourrait vous intéresser.",
                    "Êtes-vous ouvert(e) à de nouvelles opportunités ?"],
        "ask": ["Pourriez-vous me recommander pour le poste chez {rcompany} ?",
                "Auriez-vous quelques conseils pour débuter en {rtopic} ?"],
        "generic": ["Je souhaiterais vous ajouter à mon réseau.", "Au plaisir d'échanger !"],
        "scam": ["J'ai une opportunité d'investissement exceptionnelle à vous proposer."],
        "filler": ["Je sais que votre temps est précieux."],
        "close": ["Cordialement, {me}", "Bien à vous", "Merci !", ""],
    },
    "pt": {
        "greet": ["Olá {first},", "Oi {first}!", "Bom dia {first},"],
        "personal": ["nos conhecemos no {event}.",
                     "li seu post sobre {rtopic}, muito bom.",
                     "também estudei na {school}.",
                     "{mutual} me indicou falar com você."],
        "value": ["Montei um guia rápido sobre {rtopic}, posso te enviar.",
                  "Posso te apresentar pessoas que trabalham com {rtopic}."],
        "pitch": ["Você teria 15 minutos esta semana para uma conversa rápida?",
                  "Ajudamos empresas como a {rcompany} com {offering}.",
                  "Posso te mostrar como a {company} pode ajudar?"],
        "recruit": ["Tenho uma oportunidade de {role} que pode te interessar.",
                    "Você está aberto(a) a novas oportunidades?"],
        "ask": ["Você poderia me indicar para a vaga na {rcompany}?",
                "Teria alguma dica para quem está começando em {rtopic}?"],
        "generic": ["Gostaria de adicionar você à minha rede profissional.",
                    "Vamos nos conectar!"],
        "scam": ["Tenho uma proposta de renda extra imperdível, me chama!"],
        "filler": ["Sei que seu tempo é curto."],
        "close": ["Abraço, {me}", "Obrigado!", "Att, {me}", ""],
    },
}

# Hidden attributes contributed by one sentence of each kind.
SENTENCE_ATTRS = {
    "personal": {"personal": 0.6}, "value": {"value": 0.7}, "pitch": {"pitch": 0.4},
    "recruit": {"recruit": 0.7}, "ask": {"ask": 0.6}, "generic": {"generic": 0.5},
    "scam": {"scam": 1.0, "pitch": 0.5}, "filler": {},
}

# Note styles: which sentence kinds, in order; "?" = optional (coin flip),
# "+" = one or more.
NOTE_STYLES = {
    "none": [],
    "generic": ["greet?", "generic", "close?"],
    "pitch": ["greet", "filler?", "pitch+", "close?"],
    "value": ["greet", "personal?", "value", "close?"],
    "personal": ["greet", "personal", "generic?", "close?"],
    "hook_pitch": ["greet", "personal", "pitch+", "close?"],
    "value_pitch": ["greet", "value", "pitch", "close?"],
    "recruit": ["greet", "recruit+", "close?"],
    "ask": ["greet", "personal?", "ask", "close?"],
    "scam": ["greet?", "scam", "scam?"],
}

# --------------------------------------------------------------------------
# Personas. Profile priors, recipient-side hidden preferences (means; each
# member draws its own around them) and sender-side habits.
#   side:     how much the persona competes on its offering (rivalry factor)
#   prestige: standing beyond seniority and followers
#   open/guard/qsens/pitch/ask/research/report: recipient preference means
#   act:      weights of activity classes (daily, regular, weekly, sporadic)
#   notes:    note style weights when sending
#   retry:    (none, pest, patient, improver) weights
#   withdraw: (probability of being a "tidy" sender, min days, max days)
#   hours:    "work" (local office hours), "any", "night" (bursty automation)
#   borrow:   how much this sender wants to borrow the recipient's credibility
# --------------------------------------------------------------------------

PERSONAS = {
    "seller": dict(
        titles=[("Account Executive", SR), ("SDR", EN), ("Business Development Representative", EN),
                ("Enterprise Account Executive", SR), ("Sales Manager", MG),
                ("Regional Sales Director", DI)],
        photo=0.93, conn=(6.4, 0.7), follow=(0.6, 0.8), compl=(6, 2.5), age=(200, 4000),
        side=1.0, prestige=0.0, open=1.1, guard=0.12, qsens=0.8, pitch=0.55, ask=0.6,
        research=0.45, report=0.05, act=(0.5, 0.35, 0.12, 0.03), notice=0.9,
        notes={"pitch": 0.42, "hook_pitch": 0.2, "generic": 0.12, "value_pitch": 0.1,
               "none": 0.1, "value": 0.06},
        retry=(0.45, 0.25, 0.2, 0.1), withdraw=(0.45, 14, 45), hours="work", borrow=0.6,
        verbose=0.35),
    "automator": dict(
        titles=[("Growth Lead", MG), ("Growth Hacker", SR), ("Lead Generation Specialist", SR),
                ("Founder", OW), ("Outbound Consultant", OW)],
        photo=0.85, conn=(7.2, 0.6), follow=(0.8, 1.0), compl=(5, 3), age=(150, 3000),
        side=0.8, prestige=0.0, open=1.2, guard=0.1, qsens=0.6, pitch=0.5, ask=0.5,
        research=0.3, report=0.03, act=(0.45, 0.35, 0.15, 0.05), notice=0.8,
        notes={"pitch": 0.45, "generic": 0.25, "hook_pitch": 0.2, "none": 0.1},
        retry=(0.3, 0.5, 0.1, 0.1), withdraw=(0.6, 10, 30), hours="night", borrow=0.7,
        verbose=0.5),
    "fake": dict(
        titles=[("CEO", CX), ("Investment Advisor", SR), ("Entrepreneur", OW), ("Recruiter", SR),
                ("Marketing", EN), ("", U), ("Business Owner", OW)],
        photo=0.35, conn=(2.6, 1.1), follow=(0.3, 1.0), compl=(1.4, 5), age=(2, 120),
        side=0.0, prestige=0.0, open=0.8, guard=0.1, qsens=0.5, pitch=0.5, ask=0.5,
        research=0.2, report=0.02, act=(0.2, 0.3, 0.3, 0.2), notice=0.6,
        notes={"scam": 0.45, "generic": 0.3, "none": 0.15, "pitch": 0.1},
        retry=(0.4, 0.5, 0.05, 0.05), withdraw=(0.05, 30, 90), hours="night", borrow=0.9,
        verbose=0.2),
    "recruiter": dict(
        titles=[("Technical Recruiter", SR), ("Talent Acquisition Partner", SR),
                ("Senior Recruiter", SR), ("Executive Search Consultant", DI),
                ("Recruitment Manager", MG), ("Headhunter", OW)],
        photo=0.95, conn=(7.6, 0.6), follow=(0.7, 0.8), compl=(7, 2), age=(300, 5000),
        side=0.9, prestige=0.0, open=1.4, guard=0.1, qsens=0.6, pitch=0.5, ask=0.4,
        research=0.5, report=0.03, act=(0.6, 0.3, 0.08, 0.02), notice=0.85,
        notes={"recruit": 0.6, "generic": 0.12, "personal": 0.08, "none": 0.12,
               "hook_pitch": 0.08},
        retry=(0.5, 0.25, 0.2, 0.05), withdraw=(0.35, 10, 40), hours="work", borrow=0.3,
        verbose=0.3),
    "jobseeker": dict(
        titles=[("Software Engineer", SR), ("Data Analyst", EN), ("Product Manager", SR),
                ("Marketing Specialist", EN), ("Registered Nurse", SR), ("Financial Analyst", EN),
                ("Open to work", U)],
        photo=0.8, conn=(5.3, 0.9), follow=(0.4, 0.8), compl=(5, 2.5), age=(100, 3000),
        side=0.4, prestige=0.0, open=1.2, guard=0.08, qsens=0.7, pitch=0.9, ask=0.5,
        research=0.55, report=0.04, act=(0.55, 0.3, 0.12, 0.03), notice=0.9,
        notes={"ask": 0.45, "personal": 0.15, "generic": 0.15, "none": 0.15, "value": 0.1},
        retry=(0.45, 0.2, 0.2, 0.15), withdraw=(0.15, 30, 90), hours="any", borrow=0.7,
        verbose=0.45),
    "networker": dict(
        titles=[("Software Engineer", SR), ("Senior Data Scientist", SR), ("Product Manager", SR),
                ("Operations Analyst", EN), ("Solutions Architect", SR), ("Team Lead", MG),
                ("Consultant", SR), ("Backend Developer", SR)],
        photo=0.85, conn=(6.0, 0.8), follow=(0.6, 0.9), compl=(5.5, 2.5), age=(300, 6000),
        side=0.3, prestige=0.0, open=0.9, guard=0.2, qsens=1.0, pitch=1.2, ask=0.8,
        research=0.6, report=0.08, act=(0.35, 0.35, 0.22, 0.08), notice=0.85,
        notes={"none": 0.32, "personal": 0.3, "generic": 0.15, "value": 0.15, "ask": 0.08},
        retry=(0.7, 0.05, 0.15, 0.1), withdraw=(0.1, 30, 120), hours="any", borrow=0.15,
        verbose=0.2),
    "founder": dict(
        titles=[("Founder & CEO", OW), ("Co-founder", OW), ("CEO", CX), ("Founder", OW),
                ("Managing Partner", OW)],
        photo=0.92, conn=(7.0, 0.8), follow=(1.2, 1.1), compl=(6, 2), age=(400, 6000),
        side=1.0, prestige=0.3, open=0.6, guard=0.45, qsens=1.0, pitch=1.0, ask=0.9,
        research=0.5, report=0.06, act=(0.45, 0.3, 0.18, 0.07), notice=0.75,
        notes={"hook_pitch": 0.3, "value": 0.2, "value_pitch": 0.15, "personal": 0.15,
               "pitch": 0.1, "none": 0.1},
        retry=(0.5, 0.1, 0.2, 0.2), withdraw=(0.15, 30, 90), hours="any", borrow=0.4,
        verbose=0.3),
    "exec": dict(
        titles=[("VP Sales", VP), ("Chief Revenue Officer", CX), ("CFO", CX), ("CTO", CX),
                ("VP Engineering", VP), ("COO", CX), ("Chief Marketing Officer", CX),
                ("SVP Operations", VP), ("Chief People Officer", CX)],
        photo=0.9, conn=(7.4, 0.7), follow=(1.8, 1.1), compl=(6, 2), age=(1500, 7000),
        side=0.8, prestige=0.5, open=-0.2, guard=0.9, qsens=1.1, pitch=1.5, ask=1.1,
        research=0.35, report=0.06, act=(0.3, 0.35, 0.25, 0.1), notice=0.55,
        notes={"personal": 0.35, "none": 0.35, "value": 0.2, "generic": 0.1},
        retry=(0.85, 0.0, 0.1, 0.05), withdraw=(0.05, 60, 120), hours="work", borrow=0.05,
        verbose=0.1),
    "creator": dict(
        titles=[("Keynote Speaker", OW), ("Author", OW), ("Top Voice", SR), ("Podcast Host", OW),
                ("Advisor", SR), ("Industry Analyst", SR)],
        photo=0.98, conn=(8.2, 0.5), follow=(3.0, 1.0), compl=(7, 1.5), age=(1500, 6000),
        side=0.7, prestige=0.6, open=0.1, guard=1.1, qsens=0.9, pitch=1.4, ask=1.2,
        research=0.3, report=0.07, act=(0.55, 0.3, 0.12, 0.03), notice=0.45,
        notes={"personal": 0.3, "value": 0.3, "none": 0.3, "generic": 0.1},
        retry=(0.8, 0.05, 0.1, 0.05), withdraw=(0.05, 60, 120), hours="any", borrow=0.05,
        verbose=0.2),
    "manager": dict(
        titles=[("Engineering Manager", MG), ("Head of Operations", DI), ("Procurement Manager", MG),
                ("Marketing Manager", MG), ("IT Director", DI), ("Finance Manager", MG),
                ("Director of Customer Success", DI), ("Product Lead", MG)],
        photo=0.88, conn=(6.5, 0.7), follow=(0.7, 0.9), compl=(6, 2), age=(800, 6000),
        side=0.2, prestige=0.0, open=1.0, guard=0.3, qsens=1.0, pitch=1.1, ask=0.8,
        research=0.55, report=0.07, act=(0.45, 0.35, 0.15, 0.05), notice=0.85,
        notes={"none": 0.35, "personal": 0.3, "generic": 0.15, "value": 0.15, "ask": 0.05},
        retry=(0.75, 0.05, 0.15, 0.05), withdraw=(0.1, 30, 120), hours="work", borrow=0.15,
        verbose=0.15),
    "student": dict(
        titles=[("Student", EN), ("MSc candidate", EN), ("Research Intern", EN),
                ("Undergraduate", EN), ("Graduate Assistant", EN)],
        photo=0.7, conn=(4.0, 0.9), follow=(0.2, 0.6), compl=(3, 3), age=(20, 1500),
        side=0.1, prestige=0.0, open=1.3, guard=0.05, qsens=0.8, pitch=1.0, ask=0.4,
        research=0.5, report=0.03, act=(0.55, 0.3, 0.12, 0.03), notice=0.9,
        notes={"ask": 0.3, "personal": 0.35, "generic": 0.15, "none": 0.15, "value": 0.05},
        retry=(0.5, 0.2, 0.15, 0.15), withdraw=(0.1, 30, 90), hours="any", borrow=0.6,
        verbose=0.5),
    "academic": dict(
        titles=[("Professor", DI), ("Associate Professor", SR), ("Postdoctoral Researcher", SR),
                ("PhD candidate", EN), ("Lab Director", DI), ("Research Scientist", SR),
                ("Lecturer", SR)],
        photo=0.8, conn=(5.6, 0.8), follow=(1.0, 1.0), compl=(5, 2.5), age=(500, 6000),
        side=0.6, prestige=0.35, open=0.6, guard=0.5, qsens=1.0, pitch=1.6, ask=0.7,
        research=0.55, report=0.05, act=(0.25, 0.35, 0.28, 0.12), notice=0.7,
        notes={"personal": 0.35, "none": 0.3, "value": 0.2, "ask": 0.1, "generic": 0.05},
        retry=(0.8, 0.02, 0.13, 0.05), withdraw=(0.05, 60, 120), hours="any", borrow=0.15,
        verbose=0.35),
    "freelancer": dict(
        titles=[("Freelance Designer", OW), ("Full-stack Developer", SR), ("Copywriter", OW),
                ("Translator", OW), ("Illustrator", OW), ("Video Editor", SR),
                ("SEO Specialist", SR), ("WordPress Developer", SR)],
        photo=0.82, conn=(5.2, 0.9), follow=(0.6, 0.9), compl=(5, 2.5), age=(60, 3000),
        side=1.0, prestige=0.0, open=0.9, guard=0.15, qsens=0.8, pitch=0.8, ask=0.6,
        research=0.55, report=0.05, act=(0.55, 0.3, 0.12, 0.03), notice=0.85,
        notes={"pitch": 0.28, "value": 0.2, "hook_pitch": 0.17, "value_pitch": 0.12,
               "generic": 0.13, "none": 0.1},
        retry=(0.4, 0.2, 0.2, 0.2), withdraw=(0.25, 20, 60), hours="any", borrow=0.5,
        verbose=0.4),
    "client": dict(
        titles=[("Product Owner", MG), ("Marketing Lead", MG), ("Agency Owner", OW),
                ("Startup Founder", OW), ("Project Manager", MG), ("Head of Content", DI)],
        photo=0.85, conn=(6.0, 0.8), follow=(0.6, 0.9), compl=(5.5, 2.5), age=(300, 5000),
        side=0.1, prestige=0.1, open=0.7, guard=0.3, qsens=1.1, pitch=1.2, ask=0.9,
        research=0.6, report=0.08, act=(0.4, 0.35, 0.18, 0.07), notice=0.75,
        notes={"personal": 0.25, "none": 0.35, "generic": 0.25, "value": 0.15},
        retry=(0.8, 0.05, 0.1, 0.05), withdraw=(0.1, 30, 90), hours="work", borrow=0.1,
        verbose=0.2),
    "community": dict(
        titles=[("Community Manager", MG), ("Head of Community", DI), ("RevOps Lead", MG),
                ("Customer Success Manager", MG), ("Ops Manager", MG), ("Events Lead", SR)],
        photo=0.95, conn=(7.0, 0.6), follow=(1.0, 0.9), compl=(7, 2), age=(400, 5000),
        side=0.3, prestige=0.1, open=1.2, guard=0.2, qsens=0.9, pitch=1.0, ask=0.6,
        research=0.45, report=0.05, act=(0.55, 0.3, 0.12, 0.03), notice=0.8,
        notes={"personal": 0.35, "value": 0.25, "generic": 0.15, "none": 0.15,
               "hook_pitch": 0.1},
        retry=(0.6, 0.05, 0.25, 0.1), withdraw=(0.1, 30, 90), hours="work", borrow=0.2,
        verbose=0.25),
}

# --------------------------------------------------------------------------
# Platforms (tenants). Each offering: (key, family, phrase, audience, benefit).
# `kind` of an industry: "supply" (its people sell that offering), "employer"
# (people work in it), "school" (research topics; rival groups).
# --------------------------------------------------------------------------

def _ind(companies, offerings):
    return {"companies": companies, "offerings": offerings}


PLATFORMS = [
    dict(
        key="prospectly", volume=0.32, ids="acct-", langs=[("en", 0.92), ("de", 0.04), ("es", 0.04)],
        tz=[(-480, 0.22), (-420, 0.08), (-360, 0.16), (-300, 0.28), (0, 0.1), (60, 0.08),
            (330, 0.05), (600, 0.03)],
        population={"manager": 0.28, "exec": 0.12, "seller": 0.2, "automator": 0.06,
                    "founder": 0.1, "networker": 0.12, "creator": 0.04, "fake": 0.04,
                    "recruiter": 0.04},
        volume_by={"seller": 3.0, "automator": 6.0, "fake": 5.0, "founder": 1.5,
                   "networker": 0.5, "recruiter": 2.0, "manager": 0.15, "exec": 0.06,
                   "creator": 0.1},
        targets={"seller": {"manager": 0.5, "exec": 0.33, "founder": 0.12, "creator": 0.05},
                 "automator": {"manager": 0.45, "exec": 0.25, "founder": 0.2, "seller": 0.1},
                 "fake": {"manager": 0.35, "exec": 0.2, "networker": 0.25, "seller": 0.2},
                 "founder": {"exec": 0.35, "founder": 0.3, "manager": 0.2, "creator": 0.15},
                 "networker": {"networker": 0.5, "manager": 0.3, "seller": 0.1, "founder": 0.1},
                 "recruiter": {"seller": 0.6, "manager": 0.3, "networker": 0.1},
                 "manager": {"manager": 0.5, "networker": 0.3, "exec": 0.2},
                 "exec": {"exec": 0.6, "founder": 0.4},
                 "creator": {"creator": 0.5, "exec": 0.5}},
        channels={"seller": [("CHANNEL_SEARCH", 0.6), ("CHANNEL_PROFILE", 0.25),
                             ("CHANNEL_OTHER", 0.1), ("CHANNEL_SUGGESTIONS", 0.05)],
                  "automator": [("CHANNEL_SEARCH", 0.5), ("CHANNEL_OTHER", 0.4),
                                ("CHANNEL_IMPORT", 0.1)],
                  "*": [("CHANNEL_SUGGESTIONS", 0.35), ("CHANNEL_PROFILE", 0.3),
                        ("CHANNEL_SEARCH", 0.15), ("CHANNEL_EVENT", 0.1),
                        ("CHANNEL_IMPORT", 0.1)]},
        events=["SaaStr", "Dreamforce", "RevGen Summit", "the Pavilion dinner", "B2B Growth Week"],
        follower_tracked=1.0,
        industries={
            "Computer Software": _ind(
                ["Brightlane", "Cloudmesa", "Stackwise", "Helio CRM", "Orbitly", "Northwind Cloud"],
                [("sales-engagement", "gtm", "sales engagement software", "revenue teams", "book more meetings"),
                 ("crm", "gtm", "CRM", "B2B sales teams", "close deals faster"),
                 ("data-platform", "data", "data warehousing", "data teams", "cut query costs"),
                 ("observability", "devops", "observability", "SRE teams", "catch incidents earlier"),
                 ("hr-software", "people", "HR software", "people teams", "onboard hires faster")]),
            "Financial Services": _ind(
                ["Ledgerly", "Paystream", "Finch & Co", "Rivet Pay", "Coinvale"],
                [("payments", "money", "payments infrastructure", "marketplaces", "get paid faster"),
                 ("spend-mgmt", "money", "spend management", "finance teams", "close the books in days"),
                 ("lending", "credit", "SME lending", "small businesses", "access working capital")]),
            "Marketing & Advertising": _ind(
                ["Adwise", "Loudframe", "Brandforge", "Clickpath"],
                [("paid-media", "ads", "paid media", "e-commerce brands", "lower CAC"),
                 ("seo-agency", "content", "SEO", "B2B SaaS companies", "grow organic traffic"),
                 ("abm", "gtm", "account-based marketing", "enterprise sellers", "land bigger accounts")]),
            "Logistics": _ind(
                ["Freightly", "Cargonaut", "ShipHub", "Dockside Systems"],
                [("freight", "freight", "freight brokerage", "shippers", "cut shipping costs"),
                 ("wms", "warehouse", "warehouse management", "3PLs", "ship orders same day"),
                 ("telematics", "fleet", "fleet telematics", "fleet operators", "reduce fuel spend")]),
            "Manufacturing": _ind(
                ["Tessel Industrial", "Corvia Parts", "Marrow Metals", "Unibolt"],
                [("mes", "factory", "manufacturing execution software", "plant managers", "reduce downtime"),
                 ("iiot", "factory", "industrial IoT", "operations teams", "predict failures"),
                 ("contract-mfg", "production", "contract manufacturing", "hardware startups", "scale production")]),
        }),
    dict(
        key="hirewell-crm", volume=0.2, ids="u", langs=[("en", 0.85), ("de", 0.08), ("fr", 0.07)],
        tz=[(0, 0.3), (60, 0.2), (-300, 0.2), (-480, 0.12), (-360, 0.08), (120, 0.1)],
        population={"networker": 0.36, "jobseeker": 0.12, "manager": 0.18, "exec": 0.06,
                    "recruiter": 0.21, "creator": 0.02, "fake": 0.03, "student": 0.02},
        volume_by={"recruiter": 5.0, "jobseeker": 1.5, "fake": 3.0, "networker": 0.3,
                   "manager": 0.3, "exec": 0.05, "student": 0.5, "creator": 0.05},
        targets={"recruiter": {"networker": 0.55, "manager": 0.25, "jobseeker": 0.1,
                               "exec": 0.05, "recruiter": 0.05},
                 "jobseeker": {"recruiter": 0.45, "manager": 0.4, "exec": 0.1, "networker": 0.05},
                 "fake": {"networker": 0.5, "jobseeker": 0.3, "manager": 0.2},
                 "networker": {"networker": 0.6, "manager": 0.3, "recruiter": 0.1},
                 "manager": {"manager": 0.4, "networker": 0.4, "recruiter": 0.2},
                 "exec": {"exec": 0.5, "manager": 0.5},
                 "student": {"recruiter": 0.5, "manager": 0.3, "networker": 0.2},
                 "creator": {"exec": 1.0}},
        channels={"recruiter": [("CHANNEL_SEARCH", 0.7), ("CHANNEL_PROFILE", 0.2),
                                ("CHANNEL_OTHER", 0.1)],
                  "*": [("CHANNEL_SUGGESTIONS", 0.3), ("CHANNEL_PROFILE", 0.3),
                        ("CHANNEL_SEARCH", 0.25), ("CHANNEL_EVENT", 0.1), ("CHANNEL_IMPORT", 0.05)]},
        events=["the career fair", "TechJobs Expo", "the hiring meetup", "HR Tech Week"],
        follower_tracked=1.0,
        industries={
            "Information Technology": _ind(
                ["Quantix", "Bytefield", "Corelogic Labs", "Nimbus Systems", "Vantage AI"],
                [("backend", "eng", "backend engineering", "", ""),
                 ("ml", "eng", "machine learning", "", ""),
                 ("frontend", "eng", "frontend engineering", "", ""),
                 ("platform", "infra", "platform engineering", "", ""),
                 ("security", "infra", "security engineering", "", "")]),
            "Hospital & Health Care": _ind(
                ["St. Aldric Health", "MedCore", "Clearwater Clinics", "CarePoint"],
                [("nursing", "clinical", "nursing", "", ""),
                 ("clinical-research", "clinical", "clinical research", "", ""),
                 ("health-admin", "admin", "healthcare administration", "", "")]),
            "Banking": _ind(
                ["Harbor Capital", "Granite Bank", "Meridian Partners"],
                [("risk", "fin", "risk management", "", ""), ("fpa", "fin", "FP&A", "", ""),
                 ("audit", "fin", "audit", "", "")]),
            "Retail": _ind(
                ["Urban Basket", "Shoply", "Crate & Co"],
                [("ecom-ops", "retail", "e-commerce operations", "", ""),
                 ("merch", "retail", "merchandising", "", "")]),
            "Staffing & Recruiting": _ind(
                ["TalentBridge", "Apex Search", "Hireology Partners", "Northstar Talent",
                 "PeopleFirst Staffing"],
                [("tech-recruiting", "recruiting", "tech recruiting", "engineering leaders", "hire senior engineers in weeks"),
                 ("health-staffing", "recruiting", "healthcare staffing", "hospitals", "fill shifts"),
                 ("exec-search", "recruiting", "executive search", "boards", "find proven leaders"),
                 ("fin-recruiting", "recruiting", "finance recruiting", "CFOs", "build finance teams")]),
        }),
    dict(
        key="alma-connect", volume=0.16, ids="alum.",
        langs=[("en", 0.55), ("de", 0.15), ("fr", 0.15), ("es", 0.15)],
        tz=[(60, 0.4), (0, 0.15), (120, 0.1), (-300, 0.12), (-480, 0.05), (330, 0.08), (540, 0.1)],
        population={"student": 0.25, "academic": 0.2, "networker": 0.3, "exec": 0.06,
                    "founder": 0.06, "creator": 0.03, "jobseeker": 0.06, "fake": 0.02,
                    "recruiter": 0.02},
        volume_by={"student": 2.0, "jobseeker": 1.5, "networker": 0.8, "academic": 0.7,
                   "founder": 0.8, "fake": 3.0, "recruiter": 2.0, "exec": 0.1, "creator": 0.1},
        targets={"student": {"networker": 0.5, "academic": 0.3, "exec": 0.1, "founder": 0.1},
                 "jobseeker": {"networker": 0.5, "exec": 0.2, "founder": 0.2, "recruiter": 0.1},
                 "networker": {"networker": 0.6, "academic": 0.15, "founder": 0.15, "student": 0.1},
                 "academic": {"academic": 0.7, "networker": 0.2, "student": 0.1},
                 "founder": {"academic": 0.3, "exec": 0.3, "networker": 0.3, "founder": 0.1},
                 "fake": {"networker": 0.4, "student": 0.3, "academic": 0.3},
                 "recruiter": {"student": 0.4, "networker": 0.5, "academic": 0.1},
                 "exec": {"exec": 0.5, "founder": 0.5}, "creator": {"academic": 1.0}},
        channels={"*": [("CHANNEL_SUGGESTIONS", 0.35), ("CHANNEL_PROFILE", 0.25),
                        ("CHANNEL_EVENT", 0.2), ("CHANNEL_SEARCH", 0.15), ("CHANNEL_IMPORT", 0.05)]},
        events=["the alumni reunion", "NeurIPS", "the Lisbon workshop", "Homecoming",
                "the summer school"],
        follower_tracked=0.7,
        industries={
            "Higher Education": _ind(
                ["University of Eastbridge", "Kestrel Institute of Technology",
                 "Universidad de Valcarce", "Université Lumière-Ouest", "TU Nordhafen"],
                [("nlp", "cs", "natural language processing", "", ""),
                 ("robotics", "cs", "robotics", "", ""),
                 ("climate", "earth", "climate modelling", "", ""),
                 ("dev-econ", "econ", "development economics", "", ""),
                 ("materials", "phys", "materials science", "", "")]),
            "Research": _ind(
                ["Halden Research Institute", "Aurora Labs", "Max-Reiner Institut"],
                [("nlp", "cs", "natural language processing", "", ""),
                 ("climate", "earth", "climate modelling", "", ""),
                 ("materials", "phys", "materials science", "", "")]),
            "Biotechnology": _ind(
                ["Genvia", "Helixa Bio", "Cellura"],
                [("gene-therapy", "bio", "gene therapy", "pharma partners", "de-risk trials"),
                 ("diagnostics", "bio", "diagnostics", "clinics", "diagnose earlier"),
                 ("protein-design", "bio", "protein design", "biotechs", "design binders faster")]),
            "Management Consulting": _ind(
                ["Strand & Partners", "Meyer Kling", "Atlas Advisory"],
                [("strategy", "consulting", "strategy consulting", "executive teams", "decide faster"),
                 ("public-advisory", "consulting", "public sector advisory", "ministries", "deliver reforms")]),
            "Public Policy": _ind(
                ["Civic Futures Lab", "European Policy Forum", "Agencia Norte"],
                [("climate-policy", "policy", "climate policy", "", ""),
                 ("digital-policy", "policy", "digital policy", "", "")]),
        }),
    dict(
        key="gigbridge", volume=0.16, ids="fl_", langs=[("en", 0.5), ("es", 0.3), ("pt", 0.2)],
        tz=[(-300, 0.2), (-180, 0.2), (-360, 0.1), (-480, 0.08), (120, 0.12), (330, 0.15),
            (480, 0.15)],
        population={"freelancer": 0.45, "client": 0.25, "founder": 0.08, "manager": 0.07,
                    "fake": 0.06, "automator": 0.04, "creator": 0.03, "networker": 0.02},
        volume_by={"freelancer": 2.5, "automator": 5.0, "fake": 2.5, "client": 0.8,
                   "founder": 0.6, "manager": 0.3, "creator": 0.1, "networker": 0.3},
        targets={"freelancer": {"client": 0.6, "founder": 0.2, "manager": 0.1, "freelancer": 0.1},
                 "client": {"freelancer": 0.9, "client": 0.1},
                 "founder": {"freelancer": 0.7, "founder": 0.3},
                 "manager": {"freelancer": 0.8, "manager": 0.2},
                 "automator": {"client": 0.6, "founder": 0.3, "manager": 0.1},
                 "fake": {"freelancer": 0.6, "client": 0.4},
                 "creator": {"creator": 0.5, "freelancer": 0.5},
                 "networker": {"freelancer": 0.5, "client": 0.5}},
        channels={"*": [("CHANNEL_SEARCH", 0.45), ("CHANNEL_PROFILE", 0.3),
                        ("CHANNEL_SUGGESTIONS", 0.15), ("CHANNEL_OTHER", 0.1)]},
        events=["the Remote Freelancers meetup", "Web Summit", "the design sprint jam",
                "Rio Dev Days"],
        follower_tracked=0.0,   # this product has no followers: the field stays 0
        industries={
            "Design": _ind(
                ["Pixel & Pine Studio", "Self-employed", "Freelance", "Studio Aurora"],
                [("logo", "design", "logo & brand identity", "startups", "look established"),
                 ("ui", "design", "UI/UX design", "SaaS teams", "raise conversion"),
                 ("illustration", "design", "illustration", "publishers", "stand out")]),
            "Software Development": _ind(
                ["Self-employed", "Freelance", "Devforge Collective", "Nearshore Labs"],
                [("react", "dev", "React development", "product teams", "ship features faster"),
                 ("wordpress", "dev", "WordPress sites", "small businesses", "get online this week"),
                 ("mobile", "dev", "mobile apps", "startups", "launch on both stores"),
                 ("data-eng", "dev", "data pipelines", "analytics teams", "trust their numbers")]),
            "Writing & Translation": _ind(
                ["Freelance", "Self-employed", "Wordsmith Co"],
                [("copy", "words", "copywriting", "brands", "convert more visitors"),
                 ("tr-es", "words", "EN-ES translation", "SaaS companies", "launch in Spanish"),
                 ("tr-pt", "words", "EN-PT translation", "SaaS companies", "launch in Brazil"),
                 ("video", "media", "video editing", "creators", "post more often")]),
            "Online Marketing": _ind(
                ["Freelance", "Growthlab Agency", "Self-employed"],
                [("seo", "growth", "SEO", "online shops", "rank higher"),
                 ("ads", "growth", "paid ads", "D2C brands", "lower CAC"),
                 ("social", "growth", "social media management", "restaurants", "fill tables")]),
            "E-commerce": _ind(
                ["Lumen Goods", "Tiny Harbor", "Mercado Verde", "Casa Nimbus"],
                [("shop", "shop", "online retail", "", "")]),
            "Startups": _ind(
                ["Rocketboard", "Quillbase", "Nuvem Labs", "Parcelo"],
                [("saas-product", "startup", "SaaS products", "", "")]),
        }),
    dict(
        key="b2b-guild", volume=0.16, ids="g-", langs=[("en", 0.9), ("de", 0.05), ("fr", 0.05)],
        tz=[(-300, 0.25), (-480, 0.15), (-360, 0.1), (0, 0.15), (60, 0.15), (600, 0.1),
            (480, 0.1)],
        population={"community": 0.2, "manager": 0.25, "exec": 0.08, "founder": 0.12,
                    "seller": 0.12, "networker": 0.13, "creator": 0.05, "fake": 0.02,
                    "automator": 0.03},
        volume_by={"community": 1.5, "seller": 2.0, "founder": 1.2, "networker": 0.8,
                   "automator": 4.0, "fake": 3.0, "manager": 0.4, "exec": 0.1, "creator": 0.2},
        targets={"community": {"manager": 0.4, "community": 0.3, "exec": 0.15, "founder": 0.15},
                 "seller": {"manager": 0.55, "exec": 0.3, "community": 0.15},
                 "founder": {"manager": 0.3, "founder": 0.3, "exec": 0.25, "creator": 0.15},
                 "networker": {"networker": 0.4, "manager": 0.3, "community": 0.3},
                 "automator": {"manager": 0.5, "exec": 0.3, "founder": 0.2},
                 "fake": {"manager": 0.5, "community": 0.3, "networker": 0.2},
                 "manager": {"manager": 0.5, "community": 0.3, "exec": 0.2},
                 "exec": {"exec": 0.6, "founder": 0.4}, "creator": {"creator": 0.5, "exec": 0.5}},
        channels={"seller": [("CHANNEL_EVENT", 0.35), ("CHANNEL_SEARCH", 0.4),
                             ("CHANNEL_PROFILE", 0.25)],
                  "*": [("CHANNEL_EVENT", 0.45), ("CHANNEL_SUGGESTIONS", 0.2),
                        ("CHANNEL_PROFILE", 0.2), ("CHANNEL_SEARCH", 0.1), ("CHANNEL_IMPORT", 0.05)]},
        events=["OpsCon", "the Guild roundtable", "CS Forum", "RevOps Live", "the Sydney chapter meetup"],
        follower_tracked=1.0,
        industries={
            "Operations": _ind(
                ["Fieldstone", "Orchard Ops", "Keel Logistics", "Bramble Foods"],
                [("ops-consulting", "ops", "operations consulting", "COOs", "cut cycle times"),
                 ("process-mining", "ops", "process mining", "ops teams", "find bottlenecks")]),
            "Revenue Operations": _ind(
                ["Pipewise", "Quota Labs", "Forecastly"],
                [("revops-tooling", "gtm", "revenue operations tooling", "RevOps teams", "clean their CRM"),
                 ("forecasting", "gtm", "sales forecasting", "CROs", "forecast within 5%")]),
            "Customer Success": _ind(
                ["Retainly", "Churnless", "Hearth CS"],
                [("cs-platform", "cs", "customer success platforms", "CS leaders", "cut churn"),
                 ("onboarding", "cs", "customer onboarding", "SaaS teams", "activate users faster")]),
            "Procurement": _ind(
                ["Sourcewise", "Tenderly", "Buyline"],
                [("procurement-suite", "proc", "procurement software", "CFOs", "control spend"),
                 ("supplier-risk", "proc", "supplier risk", "procurement teams", "avoid disruptions")]),
            "Human Resources": _ind(
                ["Peoplebase", "Crewly", "Talentloop"],
                [("hris", "people", "HRIS", "HR teams", "kill spreadsheets"),
                 ("comp", "people", "compensation benchmarking", "people leaders", "pay fairly")]),
        }),
]

# Headline templates, chosen per member; {off} = offering phrase.
HEADLINES = [
    ("{title} @ {company}", 3), ("{title} at {company}", 3), ("{title}", 2),
    ("{title} | {off}", 2), ("Helping {aud} {ben} | {title}", 1.5),
    ("{title} · {company} · ex-{prev}", 1), ("{title} | {off} | {city}", 1),
    ("{off} nerd. {title} at {company}.", 0.6), ("{TITLE} @ {COMPANY}", 0.3),
    ("{title_l} @ {company_l}", 0.4), ("", 1.2),
]
HEADLINE_BY_PERSONA = {
    "recruiter": [("Recruiting {off} talent | We're hiring!", 2), ("{title} @ {company}", 3),
                  ("Connecting great people with great teams", 1), ("{title} | {off}", 2), ("", 0.5)],
    "freelancer": [("Freelance {off} | {n}+ projects", 3), ("{off} for {aud}", 2),
                   ("{title} | {off} | {city}", 2), ("{title}", 1), ("", 0.6)],
    "student": [("Student at {company}", 3), ("{title} @ {company} | {off}", 2),
                ("Aspiring {off} professional", 1.5), ("", 1)],
    "academic": [("{title}, {company}", 3), ("{title} in {off} @ {company}", 2),
                 ("Researching {off}", 1.5), ("", 0.8)],
    "fake": [("CEO at Global Ventures", 1), ("Entrepreneur | Investor | Crypto", 2),
             ("Business Owner", 1), ("", 3), ("Marketing", 1), ("Financial freedom coach", 1)],
    "creator": [("{off} | Keynote speaker | Author of '{book}'", 2), ("Top Voice in {off}", 2),
                ("{title} | {n}k followers", 1), ("I write about {off}", 1.5)],
    "automator": [("Helping {aud} {ben} | DM me", 3), ("{title} | {off} | 10x your pipeline", 2),
                  ("{title} @ {company}", 1)],
}
BIG_COMPANIES = ["Google", "Amazon", "Salesforce", "Microsoft", "McKinsey", "Stripe", "Meta", "SAP"]
BOOKS = ["The Quiet Funnel", "Signals", "Build to Last", "Small Bets", "The Long Game"]


# --------------------------------------------------------------------------
# Members
# --------------------------------------------------------------------------

class Member:
    __slots__ = (
        "idx", "mid", "persona", "pd", "first", "lang", "tz", "industry", "company", "offering",
        "title", "seniority", "school", "created", "hist_t", "hist_p", "send_w", "attract",
        "seed", "open", "guard", "qsens", "pitch_intol", "ask_intol", "research", "report",
        "paranoia", "poach_fear", "aversion", "procrastinate", "busy_rate", "h_ignore",
        "h_decline", "h_pending", "verbose_intol", "rate", "weekend", "anchors", "notice",
        "intervals", "open_to_work", "needs", "grudges", "rate_band", "persist_respect",
        "style", "retry_style", "withdraw_days", "sloppy", "verbose", "day_cache", "push",
    )


def _lognormal(rng, mu, sigma):
    return math.exp(rng.gauss(mu, sigma))


class Tenant:
    """One platform's population and its simulation."""

    def __init__(self, spec, tenant_id, tidx, seed, quota):
        self.spec = spec
        self.tid = tenant_id
        self.tidx = tidx
        self.quota = quota
        self.rng = random.Random(f"worldgen2:{seed}:{tidx}:{tenant_id}")
        self.events = []   # (time, seq, event dict without eventId)
        self.truth = {}    # seq of event -> reason
        self.seq = 0
        self.records = []  # per request, for --stats
        self.pairs = {}    # (sender idx, recipient idx) -> pair state
        self.req_counter = 0
        self._build_population()

    # ---------------- population ----------------

    def _build_population(self):
        rng, spec = self.rng, self.spec
        n = max(40, int(self.quota * 0.55))
        personas = list(spec["population"].items())
        industries = list(spec["industries"].keys())
        self.members = []
        used_ids = {}
        for i in range(n):
            m = Member()
            m.idx = i
            m.persona = wchoice(rng, personas)
            pd = m.pd = PERSONAS[m.persona]
            while True:
                if spec["ids"] == "u":
                    mid = "u%d" % rng.randrange(100000, 9999999)
                elif spec["ids"] == "alum.":
                    mid = "alum.%d" % rng.randrange(1000, 999999)
                else:
                    alphabet = "abcdefghijkmnpqrstuvwxyz23456789"
                    if spec["ids"] == "fl_":
                        alphabet = alphabet.upper()
                    mid = spec["ids"] + "".join(rng.choice(alphabet) for _ in range(6))
                if mid not in used_ids:
                    used_ids[mid] = i
                    break
            m.mid = mid
            m.first = rng.choice(FIRST_NAMES)
            m.lang = wchoice(rng, spec["langs"])
            m.tz = wchoice(rng, spec["tz"])
            m.industry = self._industry_for(m, industries)
            ind = spec["industries"][m.industry]
            m.company = rng.choice(ind["companies"])
            m.offering = rng.choice(ind["offerings"])
            m.title, m.seniority = rng.choice(pd["titles"])
            m.school = rng.choice(spec["industries"].get("Higher Education", {"companies": [
                "Eastbridge", "Kestrel Tech", "Westmoor College", "Valcarce", "Nordhafen"]})["companies"])
            # Account creation: fakes are young accounts, others spread widely.
            lo, hi = pd["age"]
            age0 = int(math.exp(rng.uniform(math.log(lo), math.log(hi))))
            m.created = WORLD_START - age0 * DAY
            if m.persona == "fake":
                # Fake accounts are made during the window and burn out in weeks.
                m.created = WORLD_START + rng.randrange(-30, SEND_WINDOW_DAYS - 40) * DAY + \
                    rng.randrange(DAY)
            # --- the true profile (the product's view of it comes later) ---
            has_photo = rng.random() < pd["photo"]
            conn = int(_lognormal(rng, *pd["conn"]))
            if m.persona != "fake" and rng.random() < 0.06:
                conn = rng.randrange(0, 40)           # a genuine newcomer with a thin network
            conn = min(conn, 30000)
            fmu, fsg = pd["follow"]
            # Heavy tail: followers ~ connections x lognormal, occasionally viral.
            followers = int(conn * _lognormal(rng, fmu - 0.5, fsg))
            if rng.random() < 0.02:
                followers *= rng.randrange(5, 60)
            followers = min(followers, 50_000_000)
            if rng.random() >= spec["follower_tracked"]:
                followers = 0
            a, b = pd["compl"]
            compl = round(rng.betavariate(a, b), 2)
            spam = 0
            if m.persona == "fake":
                spam = int(rng.expovariate(0.6)) if rng.random() < 0.7 else 0
            elif rng.random() < 0.03:
                spam = 1
            headline = self._headline(m)
            prof = {"has_photo": has_photo, "connection_count": conn, "follower_count": followers,
                    "completeness": compl, "headline": headline, "industry": m.industry,
                    "company": m.company if m.persona != "fake" or rng.random() < 0.4 else "",
                    "seniority": m.seniority, "spam_reports": spam}
            m.hist_t = [m.created]
            m.hist_p = [prof]
            # --- sender habits ---
            m.send_w = spec["volume_by"].get(m.persona, 0.0) * _lognormal(rng, 0, 0.9)
            if rng.random() < 0.25 and m.persona not in ("fake", "automator", "seller", "recruiter"):
                m.send_w *= 0.05                     # most ordinary members barely send
            m.attract = (1 + followers) ** 0.25 * _lognormal(rng, 0, 0.4)
            m.style = list(pd["notes"].items())
            m.retry_style = wchoice(rng, list(zip(("none", "pest", "patient", "improver"),
                                                  pd["retry"])))
            p_tidy, wlo, whi = pd["withdraw"]
            m.withdraw_days = rng.uniform(wlo, whi) if rng.random() < p_tidy else None
            m.sloppy = rng.betavariate(1, 8)
            m.verbose = pd["verbose"] * rng.uniform(0.5, 1.5)
            # --- recipient preferences (hidden) ---
            m.open = rng.gauss(pd["open"], 0.55) + {CX: -0.45, VP: -0.25, OW: -0.1, MG: 0.2,
                                                    DI: 0.05}.get(m.seniority, 0.0)
            g = pd["guard"] * _lognormal(rng, 0, 0.6)
            if m.persona in ("exec", "creator", "founder") and rng.random() < 0.3:
                g *= 0.15                            # the open executive: "I accept everyone"
            if m.persona in ("networker", "manager", "academic") and rng.random() < 0.06:
                g += rng.uniform(0.6, 1.4)           # a self-styled gatekeeper without the title
            m.guard = g
            m.qsens = pd["qsens"] * _lognormal(rng, 0, 0.35)
            m.pitch_intol = pd["pitch"] * _lognormal(rng, 0, 0.4)
            m.ask_intol = pd["ask"] * _lognormal(rng, 0, 0.4)
            m.verbose_intol = _lognormal(rng, -0.3, 0.5)
            m.research = min(0.97, max(0.03, rng.gauss(pd["research"], 0.18)))
            m.report = min(0.9, rng.betavariate(1.2, 6) * pd["report"] / 0.06)
            m.paranoia = rng.betavariate(1.3, 3.5)
            m.poach_fear = rng.betavariate(1.5, 3) if m.persona in ("manager", "exec", "founder") else 0.0
            m.aversion = rng.gammavariate(2.0, 0.7) if rng.random() < 0.10 else 0.0
            m.procrastinate = rng.betavariate(1.0, 5.0)
            m.busy_rate = rng.betavariate(2, 9)
            m.h_ignore = rng.gammavariate(2.0, 0.5)
            m.h_decline = rng.gammavariate(1.2, 0.5)
            m.h_pending = rng.gammavariate(1.5, 0.5)
            m.persist_respect = rng.gauss(0, 0.4)
            m.open_to_work = rng.random() < (0.55 if m.persona == "jobseeker" else 0.22)
            m.rate_band = rng.randrange(3)          # freelancers compete within a price band
            # In-market buyers: offering families this member is shopping for.
            m.needs = []
            if m.persona in ("manager", "exec", "founder", "client", "community"):
                fams = []
                for ind in spec["industries"].values():
                    for o in ind["offerings"]:
                        if o[1] not in fams:
                            fams.append(o[1])
                for f in fams:
                    if rng.random() < 0.12:
                        m.needs.append(f)
            m.grudges = []    # filled once every member exists
            # --- attention ---
            cls = wchoice(rng, list(zip(("daily", "regular", "weekly", "sporadic"), pd["act"])))
            m.rate = {"daily": 2.0, "regular": 0.8, "weekly": 0.2, "sporadic": 0.05}[cls] * \
                _lognormal(rng, 0, 0.3)
            m.weekend = rng.uniform(0.1, 0.8)
            # One to three habitual local check-in hours (morning, lunch, evening...).
            m.anchors = [rng.choice((7.5, 8.5, 9.0, 12.5, 13.0, 17.5, 20.5, 22.0))
                         for _ in range(rng.randrange(1, 4))]
            m.notice = min(0.97, pd["notice"] * _lognormal(rng, 0, 0.15))
            # Chance that a new invitation's notification pulls m into the app soon.
            m.push = rng.betavariate(2, 2.5) * pd["notice"]
            m.intervals = self._away_intervals(m, cls)
            m.seed = rng.getrandbits(63)
            m.day_cache = {}
            self.members.append(m)
        # Private rivalries: a few members hold grudges against specific companies
        # (former employers, a lab that scooped them, the agency that poached a client).
        all_companies = []
        for ind in spec["industries"].values():
            for c in ind["companies"]:
                if c not in all_companies and c not in ("Self-employed", "Freelance"):
                    all_companies.append(c)
        for m in self.members:
            if rng.random() < 0.18:
                same = [c for c in spec["industries"][m.industry]["companies"]
                        if c != m.company and c not in ("Self-employed", "Freelance")]
                pool = same if same and rng.random() < 0.7 else all_companies
                for _ in range(rng.randrange(1, 3)):
                    c = rng.choice(pool)
                    if c != m.company and c not in m.grudges:
                        m.grudges.append(c)
        # Recipient pools: by persona, and by (persona, industry).
        self.pool = {}
        for m in self.members:
            for key in (m.persona, (m.persona, m.industry), (m.persona, "lang", m.lang)):
                lst = self.pool.setdefault(key, ([], []))
                lst[0].append(m)
                lst[1].append((lst[1][-1] if lst[1] else 0.0) + m.attract)
        self._random_profile_updates()

    def _industry_for(self, m, industries):
        rng = self.rng
        if m.persona == "recruiter" and "Staffing & Recruiting" in industries:
            return "Staffing & Recruiting" if rng.random() < 0.65 else rng.choice(
                [i for i in industries if i != "Staffing & Recruiting"])
        if m.persona in ("freelancer", "automator") and "Design" in industries:
            return rng.choice(["Design", "Software Development", "Writing & Translation",
                               "Online Marketing"])
        if m.persona in ("client",) and "E-commerce" in industries:
            return rng.choice(["E-commerce", "Startups"])
        if m.persona in ("student", "academic") and "Higher Education" in industries:
            return "Higher Education" if rng.random() < 0.75 else "Research"
        if "Staffing & Recruiting" in industries:   # only recruiters work at agencies
            return rng.choice([i for i in industries if i != "Staffing & Recruiting"])
        return rng.choice(industries)

    def _headline(self, m):
        rng = self.rng
        tmpl = wchoice(rng, HEADLINE_BY_PERSONA.get(m.persona, HEADLINES))
        off = m.offering
        company = m.company
        text = tmpl.format(
            title=m.title, company=company, off=off[2], aud=off[3] or "teams",
            ben=off[4] or "grow", prev=rng.choice(BIG_COMPANIES), city=rng.choice(CITIES),
            TITLE=m.title.upper(), COMPANY=company.upper(), title_l=m.title.lower(),
            company_l=company.lower(), n=rng.choice((20, 50, 100, 150, 300)),
            book=rng.choice(BOOKS))
        if not m.title and text.startswith(" "):
            text = text.strip()
        text = text.strip(" |@·")
        return text[:300]

    def _away_intervals(self, m, cls):
        """Vacations, dormant spells and churn as (start_utc, end_utc, purge_on_return)."""
        rng = self.rng
        out = []
        horizon_days = SEND_WINDOW_DAYS + 200 + 183
        for _ in range(rng.choice((0, 1, 1, 2, 2, 3))):
            start = rng.randrange(0, horizon_days)
            length = rng.randrange(5, 21)
            # Most people catch up after a vacation; a few clear the pile unread.
            out.append((start, start + length, rng.random() < 0.12))
        if cls in ("weekly", "sporadic") or rng.random() < 0.15:
            for _ in range(rng.choice((0, 1, 1, 2))):
                start = rng.randrange(0, horizon_days)
                length = rng.randrange(25, 150)
                out.append((start, start + length, rng.random() < 0.65))
        if rng.random() < 0.10:                     # churned: never comes back
            start = rng.randrange(0, horizon_days)
            out.append((start, 10 ** 6, False))
        off = m.tz * 60
        return sorted((WORLD_START + s * DAY - off, WORLD_START + e * DAY - off, p)
                      for s, e, p in out)

    def _random_profile_updates(self):
        """Ordinary profile drift over the window (not tied to any request)."""
        rng = self.rng
        for m in self.members:
            if m.persona == "fake":
                continue
            k = rng.choice((0, 0, 0, 1, 1, 2)) if m.send_w > 0.05 else rng.choice((0, 0, 0, 0, 1))
            for _ in range(k):
                t = WORLD_START + rng.randrange(0, (SEND_WINDOW_DAYS + 120) * DAY)
                self._update_profile(m, t, rng.choice(("growth", "growth", "photo", "job",
                                                       "polish")))

    # ---------------- profiles ----------------

    @staticmethod
    def profile_at(m, t):
        i = bisect.bisect_right(m.hist_t, t) - 1
        return m.hist_p[max(i, 0)]

    def _insert_version(self, m, t, prof):
        """Insert a profile version at t. Versions already recorded later in
        time (from changes simulated earlier) inherit this change."""
        i = bisect.bisect_right(m.hist_t, t)
        before = m.hist_p[i - 1] if i > 0 else prof
        changed = [k for k in PROFILE_FIELDS if k in prof and prof[k] != before[k]]
        m.hist_t.insert(i, t)
        m.hist_p.insert(i, prof)
        for j in range(i + 1, len(m.hist_p)):
            later = dict(m.hist_p[j])
            for key in changed:
                if key in ("connection_count", "follower_count", "completeness"):
                    later[key] = max(later[key], prof[key])
                elif key == "spam_reports":
                    later[key] += prof[key] - before[key]
                else:
                    later[key] = prof[key]
            m.hist_p[j] = later

    def _update_profile(self, m, t, what):
        """Apply a profile change at t; emit a ProfileUpdated event."""
        rng = self.rng
        old = self.profile_at(m, t)
        new = dict(old)
        if what == "growth":
            new["connection_count"] = int(old["connection_count"] * rng.uniform(1.05, 1.4)) + \
                rng.randrange(1, 15)
            if old["follower_count"]:
                new["follower_count"] = int(old["follower_count"] * rng.uniform(1.02, 1.5)) + 1
        elif what == "photo":
            new["has_photo"] = True
            if old["has_photo"]:
                new["completeness"] = min(1.0, round(old["completeness"] + 0.05, 2))
        elif what == "polish":
            new["completeness"] = min(1.0, round(old["completeness"] + rng.uniform(0.08, 0.3), 2))
            new["headline"] = self._headline(m)
        elif what == "job":
            ind = self.spec["industries"][m.industry]
            choices = [c for c in ind["companies"] if c != old["company"]]
            if choices:
                m.company = rng.choice(choices)
                new["company"] = m.company
            if rng.random() < 0.4 and m.seniority in (EN, SR, MG, DI):
                m.seniority += 1
                new["seniority"] = m.seniority
            new["headline"] = self._headline(m)
        elif what == "improve":
            # Deliberate profile work before a retry.
            if not old["has_photo"] or rng.random() < 0.2:
                new["has_photo"] = True
            new["connection_count"] = int(old["connection_count"] * rng.uniform(1.3, 2.6)) + \
                rng.randrange(20, 120)
            new["completeness"] = min(1.0, round(old["completeness"] + rng.uniform(0.12, 0.4), 2))
            if not old["headline"] or rng.random() < 0.5:
                new["headline"] = self._headline(m) or m.title or "Professional"
            if old["follower_count"]:
                new["follower_count"] = int(old["follower_count"] * rng.uniform(1.1, 1.8)) + 5
        changed = [f for f in PROFILE_FIELDS if f in new and new[f] != old[f]]
        if not changed:
            new["connection_count"] = old["connection_count"] + rng.randrange(1, 10)
            changed = ["connection_count"]
        self._insert_version(m, t, new)
        self._emit(t, m, None, "profileUpdated",
                   {"profile": self._snapshot_json(m, t, new, keep=changed),
                    "changedFields": changed})

    def _snapshot_json(self, m, t, prof=None, keep=()):
        """The product's snapshot of m at t: sometimes stale (an older cached
        version), with optional fields sometimes missing (never those in keep)."""
        rng = self.rng
        if prof is None:
            if rng.random() < 0.18:
                prof = self.profile_at(m, t - rng.randrange(3, 45) * DAY)   # stale cache
            else:
                prof = self.profile_at(m, t)
        out = {}
        if prof["has_photo"]:
            out["hasPhoto"] = True
        if prof["connection_count"]:
            out["connectionCount"] = str(prof["connection_count"])
        if prof["follower_count"] and (rng.random() > 0.04 or "follower_count" in keep):
            out["followerCount"] = str(prof["follower_count"])
        if prof["completeness"] and (rng.random() > 0.03 or "completeness" in keep):
            out["completeness"] = prof["completeness"]
        age = max(0, (t - m.created) // DAY)
        if age:
            out["accountAgeDays"] = int(min(age, 36500))
        if prof["headline"]:
            out["headline"] = prof["headline"]
        if prof["industry"] and (rng.random() > 0.07 or "industry" in keep):
            out["industry"] = prof["industry"]
        if prof["company"] and (rng.random() > 0.05 or "company" in keep):
            out["company"] = prof["company"]
        if prof["seniority"] != U and (rng.random() > 0.13 or "seniority" in keep):
            out["seniority"] = SENIORITY[prof["seniority"]]
        if m.tz and rng.random() > 0.04:
            out["utcOffsetMinutes"] = m.tz
        if prof["spam_reports"]:
            out["spamReports"] = int(prof["spam_reports"])
        return out

    # ---------------- events ----------------

    def _emit(self, t, sender, recipient, kind, payload, reason=None):
        ev = {"tenantId": self.tid, "occurredAt": fmt_time(t), "senderId": sender.mid}
        if recipient is not None:
            ev["recipientId"] = recipient.mid
        ev[kind] = payload
        self.events.append((t, self.seq, ev))
        if reason is not None:
            self.truth[self.seq] = reason
        self.seq += 1

    # ---------------- attention ----------------

    def _sessions_on(self, m, lday):
        """Session times (UTC) of m on local day `lday` (days since epoch)."""
        got = m.day_cache.get(lday)
        if got is not None:
            return got
        weekday = (lday + 3) % 7
        rate = m.rate * (m.weekend if weekday >= 5 else 1.0)
        # Poisson count by inversion.
        u = hu(m.seed, lday, 1)
        k, p = 0, math.exp(-rate)
        cdf = p
        while u > cdf and k < 12:
            k += 1
            p *= rate / k
            cdf += p
        out = []
        base = lday * DAY - m.tz * 60
        for j in range(k):
            anchor = m.anchors[int(hu(m.seed, lday, 10 + j) * len(m.anchors))]
            hour = anchor + 0.8 * hgauss(m.seed, lday, 20 + j)
            hour = min(max(hour, 0.0), 23.99)
            t = base + int(hour * 3600)
            away = False
            for s, e, _ in m.intervals:
                if s <= t < e:
                    away = True
                    break
            if not away:
                out.append(t)
        out.sort()
        m.day_cache[lday] = out
        return out

    def sessions(self, m, t_from, t_to):
        """Sessions of m in (t_from, t_to], in order."""
        off = m.tz * 60
        d = (t_from + off) // DAY
        last = (t_to + off) // DAY
        while d <= last:
            for t in self._sessions_on(m, d):
                if t_from < t <= t_to:
                    yield t
            d += 1

    def _attention(self, m, t0, t_end):
        """The moments m may look at a request that arrived at t0: perhaps a
        session triggered by the notification, then m's own sessions."""
        start = t0 + 30
        if hu(m.seed, t0, 3) < m.push:
            t = t0 + 60 + int(-math.log(max(hu(m.seed, t0, 4), 1e-9)) * 2400)
            local_h = ((t + m.tz * 60) % DAY) / 3600.0
            away = any(s <= t < e for s, e, _ in m.intervals)
            if 7 <= local_h < 23 and not away and t < t_end:
                yield t
                start = t
        yield from self.sessions(m, start, t_end)

    def busy(self, m, t):
        week = (t + m.tz * 60) // (7 * DAY)
        return hu(m.seed, week, 99) < m.busy_rate

    def mood(self, m, t):
        return 0.45 * hgauss(m.seed, t, 55)

    # ---------------- status, rivalry ----------------

    def status(self, m, prof):
        return 0.45 * math.log10(1 + prof["follower_count"] + 0.3 * prof["connection_count"]) + \
            0.3 * SEN_RANK[prof["seniority"]] + m.pd["prestige"]

    def rivalry(self, s, r, sprof):
        """How much r sees s as a competitor or threat: overlapping offerings on
        the supply side, a private grudge, or a recruiter who would poach r's team."""
        riv = 0.0
        so, ro = s.offering, r.offering
        if sprof["company"] != r.company or not sprof["company"]:
            if so[0] == ro[0]:
                overlap = 1.0
            elif so[1] == ro[1]:
                overlap = 0.5
            else:
                overlap = 0.0
            if s.persona == "freelancer" and r.persona == "freelancer":
                overlap *= (1.0, 0.45, 0.15)[abs(s.rate_band - r.rate_band)]
            riv = overlap * s.pd["side"] * r.pd["side"] * (0.4 + 2.2 * r.paranoia)
        if sprof["company"] and sprof["company"] in r.grudges:
            riv += 1.4
        if s.persona == "recruiter" and s.industry == "Staffing & Recruiting" and r.poach_fear:
            riv += 1.2 * r.poach_fear
        return riv

    # ---------------- notes ----------------

    def _note(self, s, r, style, acquainted):
        rng = self.rng
        lang = s.lang if (s.lang == r.lang or rng.random() < 0.25) else "en"
        book = PHRASES[lang]
        attrs = {"pitch": 0.0, "value": 0.0, "personal": 0.0, "ask": 0.0, "recruit": 0.0,
                 "generic": 0.0, "scam": 0.0}
        parts = []
        for slot in NOTE_STYLES[style]:
            kind = slot.rstrip("?+")
            if slot.endswith("?") and rng.random() < 0.5:
                continue
            count = 1
            if slot.endswith("+"):
                count = 1 + (rng.random() < s.verbose) + (rng.random() < s.verbose * 0.5)
            if kind == "pitch" and rng.random() < s.verbose * 0.5 and "filler" not in NOTE_STYLES[style]:
                parts.append(rng.choice(book["filler"]))
            options = list(book[kind])
            for _ in range(count):
                if not options:
                    break
                sent = options.pop(rng.randrange(len(options)))
                parts.append(sent)
                for a, v in SENTENCE_ATTRS.get(kind, {}).items():
                    attrs[a] = min(1.0, attrs[a] + v)
        if not parts:
            return "", attrs
        mutual = rng.choice(FIRST_NAMES)
        fill = dict(first=r.first, me=s.first, event=rng.choice(self.spec["events"]),
                    when=rng.choice(("week", "month", "spring", "year")), rtopic=r.offering[2],
                    school=s.school, rcompany=r.company, city=rng.choice(CITIES), mutual=mutual,
                    role=rng.choice(("Engineering Manager", "Data Lead", "Head of Sales",
                                     "Staff Engineer", "Product Designer", "Analyst")),
                    company=s.company, audience=s.offering[3] or "teams like yours",
                    benefit=s.offering[4] or "save time", offering=s.offering[2],
                    industry=r.industry, pct=rng.choice((20, 30, 35, 40, 3)),
                    stage=rng.choice(("Series A", "Series B", "fast-growing", "public")))
        text = " ".join(p.format(**fill) for p in parts if p)
        # Surface noise: casing and typos, by sender habit.
        if rng.random() < s.sloppy:
            text = text.lower()
        if rng.random() < s.sloppy * 2:
            text = _typo(rng, text)
        if s.persona == "fake" and rng.random() < 0.3:
            text = text.replace("opportunity", "OPPORTUNITY").replace("income", "INCOME")
        if rng.random() < 0.06:
            text = text + rng.choice((" 🙂", " 🚀", " 🙏", "!!"))
        # The product caps notes at 300 code points: senders trim at a word.
        if len(text) > 300:
            cut = text[:300]
            sp = cut.rfind(" ")
            text = cut[:sp] if sp > 200 else cut
        # A real shared history makes personal references carry more weight.
        if acquainted and attrs["personal"]:
            attrs["personal"] = min(1.0, attrs["personal"] + 0.3)
        return text.strip(), attrs

    # ---------------- one request ----------------

    def pick_recipient(self, s, t):
        rng = self.rng
        targets = self.spec["targets"].get(s.persona) or {"networker": 1.0}
        for _ in range(8):
            persona = wchoice(rng, list(targets.items()))
            key = persona
            if s.persona in ("networker", "academic", "manager", "community", "jobseeker",
                             "recruiter") and rng.random() < 0.55:
                key = (persona, s.industry)
                if s.persona == "recruiter" and s.industry == "Staffing & Recruiting":
                    key = (persona, rng.choice(list(self.spec["industries"].keys())))
            elif s.pd["side"] >= 0.8 and rng.random() < 0.4:
                key = (persona, s.industry)        # market peers show up in search
            elif rng.random() < 0.3:
                key = (persona, "lang", s.lang)
            pool = self.pool.get(key) or self.pool.get(persona)
            if not pool:
                continue
            mems, cum = pool
            r = mems[bisect.bisect_right(cum, rng.random() * cum[-1])
                     if cum[-1] > 0 else rng.randrange(len(mems))]
            if r is s:
                continue
            st = self.pairs.get((s.idx, r.idx))
            if st and (st["connected"] or st["busy_until"] > t or st["blocked_until"] > t
                       or st["planned"]):
                continue
            return r
        return None

    def send(self, s, t, retry_of=None):
        """Simulate one request from s sent at t, from start to end. Returns
        False if no recipient could be found (nothing emitted)."""
        rng = self.rng
        if retry_of is not None:
            r = retry_of["r"]
            st = self.pairs[(s.idx, r.idx)]
            st["planned"] = False
            if st["connected"] or st["busy_until"] > t:
                return False       # one invitation per pair at a time
        else:
            r = self.pick_recipient(s, t)
            if r is None:
                return False
        pair = self.pairs.setdefault((s.idx, r.idx), {
            "connected": False, "busy_until": 0, "blocked_until": 0, "history": [],
            "acquainted": None, "retries": 0, "last_note": None, "planned": False})
        # Hidden acquaintance: decided once per pair.
        sprof = self.profile_at(s, t)
        rprof = self.profile_at(r, t)
        pd, spec = s.pd, self.spec
        chan_opts = spec["channels"].get(s.persona) or spec["channels"]["*"]
        channel = wchoice(rng, chan_opts)
        if pair["acquainted"] is None:
            base = {"CHANNEL_IMPORT": 0.65, "CHANNEL_EVENT": 0.3, "CHANNEL_SUGGESTIONS": 0.12,
                    "CHANNEL_PROFILE": 0.07, "CHANNEL_SEARCH": 0.02, "CHANNEL_OTHER": 0.03}[channel]
            factor = {"fake": 0.0, "automator": 0.1, "seller": 0.3, "recruiter": 0.3,
                      "networker": 1.5, "student": 1.3, "academic": 1.4, "community": 1.3,
                      "manager": 1.2, "exec": 1.2}.get(s.persona, 1.0)
            if sprof["company"] and sprof["company"] == r.company:
                factor *= 2.5
            if spec["key"] == "alma-connect" and s.school == r.school:
                factor *= 1.5
            pair["acquainted"] = rng.random() < min(0.9, base * factor)
        acq = pair["acquainted"]
        # Mutual connections: a function of a hidden closeness, not of the outcome.
        closeness = 0.0015
        if acq:
            closeness = 0.05
        elif sprof["company"] == r.company and sprof["company"]:
            closeness = 0.03
        elif s.industry == r.industry:
            closeness = 0.006
        if s.persona == "fake":
            closeness = 0.0002
        lam = closeness * math.sqrt(max(1, sprof["connection_count"]) *
                                    max(1, rprof["connection_count"])) * rng.gammavariate(1.5, 1 / 1.5)
        mutuals = int(min(100000, _poisson(rng, lam)))
        # The note: a retry re-uses the note (pest) or writes a new one.
        if retry_of is not None and retry_of["kind"] == "pest" and pair["last_note"] is not None:
            note, attrs = pair["last_note"]
            if rng.random() < 0.3:
                note = (note + " (resending in case you missed it)")[:300] if note else \
                    "Resending in case you missed it."
        else:
            styles = list(s.style)
            if retry_of is not None and retry_of["kind"] == "improver":
                styles = [("value", 2.0), ("personal", 1.0), ("none", 0.5)]
            style = wchoice(rng, styles)
            note, attrs = self._note(s, r, style, acq)
        pair["last_note"] = (note, attrs)
        self.req_counter += 1
        req_id = "%s-%06d" % ({"acct-": "inv", "u": "req", "alum.": "c", "fl_": "INV",
                               "g-": "rq"}[spec["ids"]], self.req_counter)
        payload = {"requestId": req_id}
        if note:
            payload["note"] = note
        payload["channel"] = channel
        payload["senderProfile"] = self._snapshot_json(s, t)
        payload["recipientProfile"] = self._snapshot_json(r, t)
        if mutuals:
            payload["mutualConnections"] = mutuals
        self._emit(t, s, r, "requestSent", payload)

        # Retry context the recipient may remember.
        prev = pair["history"][-1] if pair["history"] else None
        too_soon = 0.0
        if prev is not None:
            gap_days = (t - prev["sent"]) / DAY
            too_soon = max(0.0, 1.0 - gap_days / 30.0)

        rec = {"tenant": self.tid, "sent": t, "r_idx": r.idx, "persona_s": s.persona, "persona_r": r.persona,
               "sen_r": r.seniority, "note_len": len(note), "has_note": bool(note),
               "retry": retry_of["kind"] if retry_of else None, "outcome": None,
               "reason": None, "end": None, "viewed": False, "kind": None}
        self.records.append(rec)
        self._resolve(s, r, t, req_id, attrs, len(note), acq, mutuals, channel, too_soon, prev,
                      pair, rec)
        return True

    def _resolve(self, s, r, t0, req_id, attrs, note_len, acq, mutuals, channel, too_soon,
                 prev, pair, rec):
        rng = self.rng
        expiry = t0 + EXPIRY_SECONDS
        # The product's expiry job runs nightly at 02:00 UTC.
        expiry = expiry - expiry % DAY + DAY + 2 * 3600 + rng.randrange(0, 1800)
        withdraw_at = None
        if s.withdraw_days is not None:
            withdraw_at = t0 + int(s.withdraw_days * DAY) + rng.randrange(0, 8 * 3600)
        end_limit = min(expiry, withdraw_at) if withdraw_at else expiry
        defers = 0
        pending_reason = None
        last = t0
        viewed_once = False
        purge_ivs = [iv for iv in r.intervals if iv[2] and iv[1] > t0 and iv[1] < end_limit]
        for st in self._attention(r, t0, end_limit):
            # Returning from a long absence: some members clear the pile unread.
            purged = False
            for s0, e0, _ in purge_ivs:
                if last < e0 <= st:
                    purged = True
            last = st
            if purged and not (acq and rng.random() < 0.5):
                tt = st + rng.randrange(20, 600)
                self._emit(tt, s, r, "requestDeclined", {"requestId": req_id, "kind": K_IGNORED},
                           R_NOTSEEN)
                self._close(pair, rec, t0, tt, "declined", R_NOTSEEN, K_IGNORED)
                return
            age_days = (st - t0) / DAY
            # Noticing: a request sinks down the list as it ages.
            p = r.notice * math.exp(-age_days / 30.0) * (0.5 if defers else 1.0)
            if rng.random() >= p:
                continue
            choice, reason, kind, viewed = self._decide(s, r, st, attrs, note_len, acq, mutuals,
                                                        channel, too_soon, prev, defers)
            tt = st + rng.randrange(5, 240)
            if viewed:
                vp = {}
                if rng.random() < 0.75:
                    vp["requestId"] = req_id
                self._emit(tt, s, r, "profileViewed", vp)
                rec["viewed"] = True
                viewed_once = True
                tt += rng.randrange(15, 900)
            if choice == "defer":
                defers += 1
                continue
            if choice == "accept":
                self._emit(tt, s, r, "requestAccepted", {"requestId": req_id})
                self._close(pair, rec, t0, tt, "accepted", None, None)
                pair["connected"] = True
                if rng.random() < 0.08:       # a look at the new connection later on
                    self._emit(tt + rng.randrange(3600, 5 * DAY), s, r, "profileViewed", {})
                return
            if kind == "pending":
                pending_reason = reason
                break
            self._emit(tt, s, r, "requestDeclined", {"requestId": req_id, "kind": kind}, reason)
            self._close(pair, rec, t0, tt, "declined", reason, kind)
            if kind == K_SPAM:
                self._spam_report(s, tt)
            return
        # Never answered: the sender withdraws, or the request expires.
        if withdraw_at is not None and withdraw_at < expiry:
            self._emit(withdraw_at, s, r, "requestWithdrawn", {"requestId": req_id})
            self._close(pair, rec, t0, withdraw_at, "withdrawn", None, None)
            pair["blocked_until"] = withdraw_at + 21 * DAY   # re-invite block
            return
        if pending_reason is None:
            # Seen but never made up their mind, or never seen at all.
            pending_reason = R_UND if (defers or viewed_once) else R_NOTSEEN
        self._emit(expiry, s, r, "requestExpired", {"requestId": req_id}, pending_reason)
        self._close(pair, rec, t0, expiry, "expired", pending_reason, None)

    def _close(self, pair, rec, t0, t_end, outcome, reason, kind):
        pair["busy_until"] = t_end
        pair["history"].append({"sent": t0, "end": t_end, "outcome": outcome, "reason": reason,
                                "kind": kind})
        rec["outcome"], rec["reason"], rec["end"], rec["kind"] = outcome, reason, t_end, kind

    def _spam_report(self, s, t):
        """A spam report raises the sender's public count from now on (no
        ProfileUpdated: the member did not edit anything)."""
        p = dict(self.profile_at(s, t))
        p["spam_reports"] += 1
        self._insert_version(s, t, p)

    # ---------------- the recipient's choice ----------------

    def _decide(self, s, r, st, attrs, note_len, acq, mutuals, channel, too_soon, prev, defers):
        """Discrete choice at session st. Returns (choice, truth reason, decline
        kind, viewed). The motive with the highest utility (after noise) is the
        truth; nothing here looks at what the events will show."""
        rng = self.rng
        sprof = self.profile_at(s, st)   # the sender as they really are now
        rprof = self.profile_at(r, st)
        lmut = math.log1p(mutuals)
        # Does r open the sender's profile first? A habit, raised by curiosity.
        z = logit(r.research) + 0.6 * (mutuals == 0) + \
            0.5 * (attrs["personal"] + attrs["value"] > 0.5) + \
            0.6 * (not sprof["has_photo"]) - 1.5 * acq + 0.4 * attrs["scam"]
        viewed = rng.random() < sigmoid(z)

        # --- perceived fakeness: only what r can see ---
        F = 1.2 * (not sprof["has_photo"]) + 0.5 * (not sprof["headline"]) + 1.5 * attrs["scam"] + \
            0.25 * attrs["generic"] * (mutuals == 0)
        if viewed:
            conn = sprof["connection_count"]
            age = (st - s.created) / DAY
            F += 0.9 * (conn < 40) + 0.5 * (conn < 150) + 1.1 * (1 - sprof["completeness"]) + \
                0.7 * (age < 60) + 0.8 * min(sprof["spam_reports"], 3)
        if acq:
            F *= 0.15
        F = max(0.0, F - 0.25 * lmut)

        busy = self.busy(r, st)
        mood = self.mood(r, st)
        status_s = self.status(s, sprof)
        status_r = self.status(r, rprof)

        # --- why r might want this connection ---
        relevance = 0.0
        if attrs["recruit"] and r.open_to_work:
            relevance += 1.1
        if s.offering[1] in r.needs and s.pd["side"] >= 0.8:
            relevance += 1.0                      # an in-market buyer hears a relevant seller
        if s.persona == "jobseeker" and r.persona == "recruiter":
            relevance += 0.8
        if s.persona in ("client", "founder", "manager") and r.persona == "freelancer":
            relevance += 1.3                      # possible work
        if self.spec["key"] == "alma-connect" and s.school == r.school:
            relevance += 0.6
        if s.persona == "academic" and r.persona == "academic" and s.offering[1] == r.offering[1]:
            relevance += 0.4                      # possible collaborators...
        if s.industry == r.industry:
            relevance += 0.2
        if channel == "CHANNEL_EVENT":
            relevance += 0.3
        relevance += 0.3 * max(0.0, status_s - status_r)
        u_accept = r.open - 0.5 + 2.0 * acq + 0.22 * lmut + 0.5 * attrs["personal"] + \
            0.45 * attrs["value"] + relevance - 0.25 * busy - 0.3 * (note_len > 150)
        if prev is not None and prev["outcome"] != "accepted" and too_soon < 0.3:
            u_accept += r.persist_respect         # some respect a patient second try

        opts = {"accept": u_accept}
        # Spammy profile.
        if F > 0:
            opts[R_SPAM] = r.qsens * F - 2.2 + mood
        # Off-target approach: asks before it gives, wrong moment, wrong audience.
        pitch_eff = max(0.0, attrs["pitch"] - 0.5 * attrs["value"])
        if s.offering[1] in r.needs:
            pitch_eff *= 0.3                      # a pitch for what you need is not off-target
        press = r.pitch_intol * pitch_eff + r.ask_intol * attrs["ask"] * (0.4 if acq else 1.0) + \
            1.2 * attrs["recruit"] * (not r.open_to_work) + \
            0.5 * (note_len > 180) * r.verbose_intol + 0.8 * busy + 2.2 * too_soon
        if press > 0:
            opts[R_OFF] = 1.5 * press - 1.4 + mood
        # Perceived competitor / threat.
        riv = self.rivalry(s, r, sprof)
        if riv > 0.05 and not acq:
            opts[R_COMP] = 2.4 * riv - 0.8 + mood
        # Credibility guard: r guards what their name lends to someone who
        # would borrow it; vouching (mutuals) softens it.
        gap = status_r - status_s
        borrow = s.pd["borrow"] + 0.4 * attrs["pitch"] + 0.4 * attrs["ask"]
        gpress = max(0.0, gap - 0.3) * (0.5 + borrow) - 0.2 * lmut
        if gpress > 0 and not acq:
            opts[R_GUARD] = 1.6 * r.guard * gpress - 1.0 + mood
        # Plain stranger aversion: "I only connect with people I know".
        if r.aversion > 0 and not acq:
            opts["stranger"] = r.aversion - 0.35 * lmut - 0.9 + mood
        # Memory of an earlier decline of this pair: motives persist.
        if prev is not None and prev["reason"] in opts and prev["reason"] not in (R_NOTSEEN, R_UND):
            opts[prev["reason"]] += {R_SPAM: 0.3, R_OFF: 0.3, R_COMP: 1.0, R_GUARD: 0.6}[prev["reason"]]

        noisy = {k: v + gumbel(rng) for k, v in opts.items()}
        best = max(noisy, key=lambda k: (noisy[k], k))
        declines = sorted(((v, k) for k, v in noisy.items() if k != "accept"), reverse=True)
        # Unsure between accepting and not: some put it off to a later session.
        if declines and defers < 2 and abs(noisy["accept"] - declines[0][0]) < 0.4 and \
                rng.random() < r.procrastinate * 2:
            return "defer", None, None, viewed
        if best == "accept":
            return "accept", None, None, viewed
        motive = best
        reason = motive if motive != "stranger" else R_UND
        if len(declines) > 1 and declines[0][0] - declines[1][0] < 0.08:
            reason = R_UND                         # two motives at once: none dominates
        kind = self._ending(r, motive, F, too_soon)
        return "decline", reason, kind, viewed

    def _ending(self, r, motive, F, too_soon):
        """How a decline shows, from the motive and r's habits."""
        # (ignore, decline, reported unknown, reported spam, leave pending)
        base = {R_SPAM: (0.3, 0.12, 0.18, 0.35 * min(1.0, F / 2.5), 0.15),
                R_OFF: (0.42, 0.22, 0.04, 0.03 + 0.3 * too_soon, 0.25),
                R_COMP: (0.35, 0.35, 0.02, 0.0, 0.28),
                R_GUARD: (0.45, 0.1, 0.03, 0.0, 0.42),
                "stranger": (0.3, 0.2, 0.35, 0.02, 0.13)}[motive]
        rep = r.report * 5
        w = (base[0] * r.h_ignore, base[1] * r.h_decline, base[2] * (0.3 + rep),
             base[3] * (0.2 + rep), base[4] * r.h_pending)
        return wchoice(self.rng, list(zip((K_IGNORED, K_DECLINED, K_UNKNOWN, K_SPAM, "pending"),
                                          w)))

    # ---------------- the whole tenant ----------------

    def plan_and_run(self):
        rng = self.rng
        senders = [m for m in self.members if m.send_w > 0]
        cum, tot = [], 0.0
        for m in senders:
            tot += m.send_w
            cum.append(tot)
        heap = []
        order = 0
        # Initial sends: more than the quota; the run stops at the quota, so the
        # latest planned ones fall away when retries take their place.
        planned = int(self.quota * 1.25) + 5
        for _ in range(planned):
            s = senders[bisect.bisect_right(cum, rng.random() * tot)]
            if s.persona == "fake":      # a campaign in the account's first weeks
                day = s.created - s.created % DAY + rng.randrange(1, 50) * DAY
                t = max(self._send_time(s, day), s.created + 3600)
            else:
                t = self._send_time(s, WORLD_START + rng.randrange(0, SEND_WINDOW_DAYS) * DAY)
            heapq.heappush(heap, (t, order, s.idx, None))
            order += 1
        sent = 0
        while heap and sent < self.quota:
            t, _, sidx, retry = heapq.heappop(heap)
            s = self.members[sidx]
            if not self.send(s, t, retry):
                continue
            sent += 1
            follow = self._maybe_retry(s, self.records[-1])
            if follow is not None:
                heapq.heappush(heap, (follow[0], order, s.idx, follow[1]))
                order += 1
        if sent < self.quota:
            raise RuntimeError(f"{self.tid}: only {sent} of {self.quota} requests placed")

    def _send_time(self, s, day_start):
        """A send time on the given UTC day, by the sender's rhythm."""
        rng = self.rng
        hours = s.pd["hours"]
        if hours == "night":       # automation: a fixed server batch, any day
            return day_start + rng.choice((2, 3, 4, 14)) * 3600 + rng.randrange(0, 1800)
        local_day = (day_start + s.tz * 60) // DAY
        if hours == "work" and (local_day + 3) % 7 >= 5 and rng.random() < 0.8:
            local_day += 2         # senders in office mode wait for Monday
        if hours == "work":
            h = rng.uniform(8, 18)
        else:
            h = wchoice(rng, [(rng.uniform(7, 12), 0.35), (rng.uniform(12, 18), 0.35),
                              (rng.uniform(18, 24), 0.25), (rng.uniform(0, 7), 0.05)])
        return local_day * DAY - s.tz * 60 + int(h * 3600)

    def _maybe_retry(self, s, rec):
        """After an ending, does the sender try the same person again?"""
        rng = self.rng
        if rec["outcome"] == "accepted":
            return None
        pair = self.pairs[(s.idx, rec["r_idx"])]
        r = self.members[rec["r_idx"]]
        if pair["retries"] >= 2:
            return None
        style = s.retry_style
        if style == "none":
            return None
        p = {"pest": 0.45, "patient": 0.35, "improver": 0.5}[style]
        if rec["kind"] == K_SPAM:
            p = 0.15 if style == "pest" else 0.02
        if rng.random() >= p:
            return None
        end = rec["end"]
        if style == "pest":
            delay = rng.uniform(0.3, 4) * DAY
        elif style == "patient":
            delay = rng.uniform(21, 75) * DAY
        else:
            # Profile work first (a photo, more connections, a fuller profile).
            work = end + int(rng.uniform(3, 20) * DAY)
            self._update_profile(s, work, "improve")
            if rng.random() < 0.4:
                self._update_profile(s, work + int(rng.uniform(2, 10) * DAY), "growth")
            delay = rng.uniform(28, 100) * DAY
        t = int(end + delay)
        if rec["outcome"] == "withdrawn":
            t = max(t, pair["blocked_until"] + 3600)
        pair["retries"] += 1
        pair["planned"] = True
        return t, {"r": r, "kind": style}


def _typo(rng, text):
    words = text.split(" ")
    for _ in range(rng.randrange(1, 3)):
        i = rng.randrange(len(words))
        w = words[i]
        if len(w) > 3:
            j = rng.randrange(len(w) - 1)
            if rng.random() < 0.5:
                w = w[:j] + w[j + 1] + w[j] + w[j + 2:]
            else:
                w = w[:j] + w[j + 1:]
            words[i] = w
    return " ".join(words)


def _poisson(rng, lam):
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, int(round(rng.gauss(lam, math.sqrt(lam)))))
    k, p, L = 0, 1.0, math.exp(-lam)
    while True:
        p *= rng.random()
        if p <= L:
            return k
        k += 1


def fmt_time(t):
    return _time_mod.strftime("%Y-%m-%dT%H:%M:%SZ", _time_mod.gmtime(t))


# --------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------

def _tenant_specs(n):
    out = []
    for i in range(n):
        spec = PLATFORMS[i % len(PLATFORMS)]
        tid = spec["key"] if i < len(PLATFORMS) else "%s-%d" % (spec["key"], i // len(PLATFORMS) + 1)
        out.append((spec, tid))
    return out


def _quotas(specs, requests):
    weights = [s["volume"] for s, _ in specs]
    total = sum(weights)
    raw = [requests * w / total for w in weights]
    q = [max(1, int(x)) for x in raw]
    # Largest remainder, keeping every tenant at one request at least.
    order = sorted(range(len(q)), key=lambda i: (-(raw[i] - int(raw[i])), i))
    i = 0
    while sum(q) < requests:
        q[order[i % len(q)]] += 1
        i += 1
    while sum(q) > requests:
        j = max(range(len(q)), key=lambda k: (q[k], -k))
        q[j] -= 1
    return q


def simulate(seed, requests, tenants=5):
    specs = _tenant_specs(tenants)
    quotas = _quotas(specs, requests)
    worlds = []
    for i, ((spec, tid), q) in enumerate(zip(specs, quotas)):
        w = Tenant(spec, tid, i, seed, q)
        w.plan_and_run()
        worlds.append(w)
    return worlds


def generate(seed, requests, out_path, truth_path, tenants=5):
    """Write the events and truth files; returns a small summary dict."""
    if not isinstance(requests, int) or requests < 1:
        raise ValueError("requests must be a positive integer")
    if not isinstance(tenants, int) or not 1 <= tenants <= 50:
        raise ValueError("tenants must be 1..50")
    if requests < tenants:
        raise ValueError("requests must be at least tenants")
    worlds = simulate(seed, requests, tenants)
    merged = []
    for w in worlds:
        for t, seq, ev in w.events:
            merged.append((t, w.tidx, seq, ev, w.truth.get(seq)))
    merged.sort(key=lambda x: (x[0], x[1], x[2]))
    counters = [0] * len(worlds)
    n_truth = 0
    with open(out_path, "w", encoding="utf-8", newline="\n") as fo, \
            open(truth_path, "w", encoding="utf-8", newline="\n") as ft:
        for t, tidx, seq, ev, reason in merged:
            counters[tidx] += 1
            eid = "w2.%s.%07d" % (ev["tenantId"], counters[tidx])
            line = {"eventId": eid}
            line.update(ev)
            fo.write(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n")
            if reason is not None:
                ft.write(json.dumps({"event_id": eid, "tenant_id": ev["tenantId"],
                                     "true_reason": reason}, separators=(",", ":")) + "\n")
                n_truth += 1
    return {"events": len(merged), "truth": n_truth, "worlds": worlds}


def stats(worlds):
    """Figures about a generated world (class mix, timing, acceptance)."""
    recs = [r for w in worlds for r in w.records]
    out = {}
    n = len(recs)
    acc = [r for r in recs if r["outcome"] == "accepted"]
    out["requests"] = n
    for o in ("accepted", "declined", "expired", "withdrawn"):
        out[o] = sum(r["outcome"] == o for r in recs)
    labelled = [r for r in recs if r["reason"] is not None]
    mix = {}
    for reason in REASONS:
        mix[reason.replace("DECLINE_REASON_", "")] = round(
            sum(r["reason"] == reason for r in labelled) / max(1, len(labelled)), 3)
    out["truth_lines"] = len(labelled)
    out["mix"] = mix
    lat = sorted((r["end"] - r["sent"]) / DAY for r in acc)
    if lat:
        out["accepted_within_1d"] = round(sum(x <= 1 for x in lat) / len(lat), 3)
        out["accepted_within_7d"] = round(sum(x <= 7 for x in lat) / len(lat), 3)
        out["accept_median_h"] = round(lat[len(lat) // 2] * 24, 1)

    def rate(sel):
        sel = list(sel)
        answered = [r for r in sel if r["outcome"] in ("accepted", "declined", "expired")]
        return (round(sum(r["outcome"] == "accepted" for r in answered) / max(1, len(answered)), 3),
                len(answered))
    out["accept_rate"] = rate(recs)
    out["accept_rate_note_none"] = rate(r for r in recs if not r["has_note"])
    out["accept_rate_note_lt100"] = rate(r for r in recs if r["has_note"] and r["note_len"] < 100)
    out["accept_rate_note_ge100"] = rate(r for r in recs if r["note_len"] >= 100)
    out["accept_rate_by_recipient_seniority"] = {
        SENIORITY[k].replace("SENIORITY_", ""): rate(r for r in recs if r["sen_r"] == k)
        for k in (EN, SR, MG, DI, VP, CX, OW)}
    out["accept_rate_by_tenant"] = {w.tid: rate(w.records) for w in worlds}
    out["mix_by_tenant"] = {}
    for w in worlds:
        lab = [r for r in w.records if r["reason"] is not None]
        out["mix_by_tenant"][w.tid] = {
            k.replace("DECLINE_REASON_", "")[:8]: round(sum(r["reason"] == k for r in lab) /
                                                         max(1, len(lab)), 2) for k in REASONS}
    kinds = {}
    for r in recs:
        if r["outcome"] == "declined":
            kinds[r["kind"]] = kinds.get(r["kind"], 0) + 1
    out["decline_kinds"] = kinds
    out["retries"] = {k: sum(r["retry"] == k for r in recs) for k in ("pest", "patient", "improver")}
    out["retry_accept_rate"] = {k: rate(r for r in recs if r["retry"] == k)
                                for k in ("pest", "patient", "improver")}
    out["viewed_share_of_declines"] = round(
        sum(r["viewed"] for r in recs if r["outcome"] == "declined") /
        max(1, out["declined"]), 3)
    out["expired_with_motive"] = sum(r["outcome"] == "expired" and r["reason"] not in
                                     (R_NOTSEEN,) for r in recs)
    return out


class _Parser(argparse.ArgumentParser):
    """argparse, but its errors are one line naming the flag."""

    def error(self, message):
        print(f"worldgen2: {message}", file=sys.stderr)
        sys.exit(2)


def main(argv=None):
    ap = _Parser(description="Generate an independent synthetic world of "
                                             "connection requests (worldgen2).")
    ap.add_argument("--seed", required=True)
    ap.add_argument("--requests", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--truth", required=True)
    ap.add_argument("--tenants", default="5")
    ap.add_argument("--quiet", action="store_true")
    ap.add_argument("--stats", action="store_true", help="print measured figures as JSON")
    args = ap.parse_args(argv)

    def integer(flag, value, lo, hi):
        try:
            v = int(value)
        except ValueError:
            v = None
        if v is None or not lo <= v <= hi:
            print(f"worldgen2: {flag} must be an integer in {lo}..{hi}, got {value!r}",
                  file=sys.stderr)
            sys.exit(2)
        return v

    seed = integer("--seed", args.seed, -(2 ** 63), 2 ** 63 - 1)
    requests = integer("--requests", args.requests, 1, 10_000_000)
    tenants = integer("--tenants", args.tenants, 1, 50)
    if requests < tenants:
        print(f"worldgen2: --requests ({requests}) must be at least --tenants ({tenants})",
              file=sys.stderr)
        sys.exit(2)
    for flag, path in (("--out", args.out), ("--truth", args.truth)):
        try:
            open(path, "a", encoding="utf-8").close()
        except OSError as e:
            print(f"worldgen2: {flag} cannot be written: {e.strerror}", file=sys.stderr)
            sys.exit(2)
    res = generate(seed, requests, args.out, args.truth, tenants=tenants)
    if args.stats:
        print(json.dumps(stats(res["worlds"]), indent=1, ensure_ascii=False))
    if not args.quiet:
        print(f"worldgen2: {res['events']} events, {res['truth']} truth lines, "
              f"{tenants} tenants -> {args.out}, {args.truth}", file=sys.stderr)


if __name__ == "__main__":
    main()
