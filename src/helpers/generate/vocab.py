"""Fixed vocabularies: countries (with their time zones and Faker locales), industries, and the word
lists that project names and task titles are built from. Changing any list changes the data."""

from __future__ import annotations

from ..schema import COMPANY_SIZES

# A US-led customer base with Europe second and a smaller Asia-Pacific share, as for a typical
# US-founded B2B tool. country_code, weight, faker locale, [(IANA time zone, weight), ...]
COUNTRIES: list[tuple[str, float, str, list[tuple[str, float]]]] = [
    (
        "US",
        0.42,
        "en_US",
        [
            ("America/New_York", 0.45),
            ("America/Chicago", 0.25),
            ("America/Denver", 0.08),
            ("America/Los_Angeles", 0.22),
        ],
    ),
    ("GB", 0.11, "en_GB", [("Europe/London", 1.0)]),
    ("DE", 0.08, "de_DE", [("Europe/Berlin", 1.0)]),
    ("CA", 0.06, "en_CA", [("America/Toronto", 0.6), ("America/Vancouver", 0.4)]),
    ("FR", 0.05, "fr_FR", [("Europe/Paris", 1.0)]),
    ("NL", 0.04, "nl_NL", [("Europe/Amsterdam", 1.0)]),
    ("AU", 0.03, "en_AU", [("Australia/Sydney", 0.7), ("Australia/Perth", 0.3)]),
    ("IN", 0.035, "en_IN", [("Asia/Kolkata", 1.0)]),
    ("BR", 0.03, "pt_BR", [("America/Sao_Paulo", 1.0)]),
    ("ES", 0.03, "es_ES", [("Europe/Madrid", 1.0)]),
    ("SE", 0.03, "sv_SE", [("Europe/Stockholm", 1.0)]),
    ("PL", 0.025, "pl_PL", [("Europe/Warsaw", 1.0)]),
    ("JP", 0.02, "ja_JP", [("Asia/Tokyo", 1.0)]),
    ("SG", 0.015, "en_US", [("Asia/Singapore", 1.0)]),
    ("IE", 0.02, "en_IE", [("Europe/Dublin", 1.0)]),
    ("MX", 0.01, "es_MX", [("America/Mexico_City", 1.0)]),
]

# Every time zone a user can have, in a fixed order (index = tz code).
TIMEZONES: list[str] = sorted({tz for *_, zones in COUNTRIES for tz, _ in zones})

# The country whose public holidays a time zone's users keep (each zone belongs to one country).
ZONE_COUNTRY: dict[str, str] = {tz: code for code, _, _, zones in COUNTRIES for tz, _ in zones}

# Public holidays (helpers.generate.calendar) come from the pinned `holidays` package: the country's
# "public" category. Where the holidays differ inside a country, a zone keeps those of the subdivision most
# of its people live in: England for the UK (Easter Monday and the August bank holiday are English, not
# Scottish), Ontario and British Columbia for Canada (Victoria Day, Thanksgiving, Boxing Day are
# provincial), New South Wales and Western Australia for Australia. US zones keep the federal calendar.
HOLIDAY_SUBDIVISIONS: dict[str, str] = {
    "Europe/London": "ENG",
    "America/Toronto": "ON",
    "America/Vancouver": "BC",
    "Australia/Sydney": "NSW",
    "Australia/Perth": "WA",
}
# Other categories of the package that employers keep as days off: Sweden's de facto holidays
# (Midsummer Eve, Christmas Eve, New Year's Eve: offices close, although the law does not say so) and
# Japan's bank holidays (31 December to 3 January: the New Year break most firms close for).
HOLIDAY_EXTRA_CATEGORIES: dict[str, tuple[str, ...]] = {"SE": ("de_facto",), "JP": ("bank",)}
# Public holidays that only some private employers give off: the share of employers that do (every other
# public holiday counts fully). US federal holidays are paid days off for federal staff; private employers
# choose: Columbus Day 12%, Veterans Day 15% (BLR Survey of Paid Time Off Practices 2010; IFEBP 2014: 24%),
# Martin Luther King Jr. Day 26-45% (BLR 2010, IFEBP 2014), Washington's Birthday 30% (BLR 2010),
# Juneteenth 39% (Mercer 2023). Names as the package gives them in en_US ("(observed)" days follow theirs).
HOLIDAY_OBSERVED_SHARE: dict[str, dict[str, float]] = {
    "US": {
        "Martin Luther King Jr. Day": 0.35,
        "Washington's Birthday": 0.3,
        "Juneteenth National Independence Day": 0.4,
        "Columbus Day": 0.12,
        "Veterans Day": 0.15,
    },
}

INDUSTRIES: list[tuple[str, float]] = [
    ("Software", 0.22),
    ("Marketing & Advertising", 0.11),
    ("Financial Services", 0.08),
    ("Healthcare", 0.07),
    ("Education", 0.07),
    ("E-commerce & Retail", 0.09),
    ("Manufacturing", 0.06),
    ("Professional Services", 0.10),
    ("Media & Entertainment", 0.05),
    ("Non-profit", 0.04),
    ("Construction & Real Estate", 0.05),
    ("Logistics", 0.06),
]

# Multiplier on a task's nominal cycle time, by priority (schema.PRIORITIES order): urgent work moves faster.
PRIORITY_CYCLE_FACTOR = [1.5, 1.0, 0.7, 0.45]

# The lowest headcount of each company-size band (schema.COMPANY_SIZES: "1-10" -> 1, "1001+" -> 1001).
COMPANY_SIZE_LOWER = [int(band.split("-")[0].rstrip("+")) for band in COMPANY_SIZES]

PROJECT_AREAS = [
    "Website",
    "Mobile App",
    "Billing",
    "Onboarding",
    "Customer Portal",
    "Data Platform",
    "Brand",
    "Hiring",
    "Office Move",
    "Security",
    "Payments",
    "Search",
    "Analytics",
    "Partner Program",
    "Support Desk",
    "Newsletter",
    "Pricing Page",
    "API",
    "Infrastructure",
    "Compliance",
    "Sales Enablement",
    "Events",
    "Product Launch",
    "Documentation",
    "Recruiting",
    "CRM",
]
PROJECT_KINDS = [
    "Redesign",
    "Migration",
    "Launch",
    "Revamp",
    "Roadmap",
    "Sprint Board",
    "Backlog",
    "Q1 Plan",
    "Q2 Plan",
    "Q3 Plan",
    "Q4 Plan",
    "Cleanup",
    "Rollout",
    "Audit",
    "Pilot",
    "v2",
    "Operations",
]

TASK_VERBS = [
    "Fix",
    "Draft",
    "Review",
    "Update",
    "Design",
    "Write",
    "Test",
    "Plan",
    "Prepare",
    "Migrate",
    "Document",
    "Investigate",
    "Clean up",
    "Set up",
    "Refactor",
    "Schedule",
    "Approve",
    "Publish",
    "Estimate",
    "Follow up on",
]
TASK_OBJECTS = [
    "login redirect",
    "release notes",
    "pricing copy",
    "onboarding email",
    "invoice template",
    "QA checklist",
    "landing page",
    "API rate limits",
    "customer feedback",
    "sprint goals",
    "vendor contract",
    "dashboard filters",
    "signup form",
    "error logging",
    "search ranking",
    "mobile navigation",
    "quarterly report",
    "support macros",
    "data export",
    "SSO settings",
    "budget sheet",
    "hiring plan",
    "style guide",
    "backup policy",
    "status page",
    "webhook retries",
    "password reset flow",
    "team offsite",
    "roadmap slides",
    "churn survey",
]

# Internal/test workspaces of the vendor (is_internal): names and a domain that give them away.
VENDOR_TEST_DOMAIN = "saas-synth.test"
INTERNAL_WORKSPACES = [
    "QA Sandbox",
    "Internal Demo Workspace",
    "Load Test Tenant",
    "Staging Smoke Tests",
    "Sales Demo (Internal)",
    "Support Training Sandbox",
    "E2E Automation",
    "Billing QA",
]

# Unflagged test workspaces (generate.sandboxes) and the real small customers that look like them: names and
# e-mail domains that hint but do not shout. Webmail providers on reserved names (subdomains of example.com),
# with rough weights of their share of personal addresses; no company domain takes one of these labels.
WEBMAIL_DOMAINS = [
    ("gmail.example.com", 0.55),
    ("outlook.example.com", 0.15),
    ("yahoo.example.com", 0.1),
    ("icloud.example.com", 0.08),
    ("proton.example.com", 0.06),
    ("gmx.example.com", 0.06),
]
WEBMAIL_LABELS = [d.split(".")[0] for d, _ in WEBMAIL_DOMAINS]
# a sandbox someone never bothered to name (a number sometimes follows: "Sandbox 2"), or named like a project
SANDBOX_NAMES = [
    "Sandbox",
    "Test",
    "test123",
    "asdf",
    "Untitled workspace",
    "My workspace",
    "Demo",
    "Playground",
    "New workspace",
    "Trial",
    "My team",
    "Workspace",
    "Acme",
    "Marketing",
    "Personal",
    "Side project",
    "Projects",
    "xyz",
]
# a person's own: {first}, {last} are the owner's names
PERSONAL_WORKSPACES = ["{first}'s workspace", "{first} {last}'s workspace", "{first}'s team", "{first} {last}"]
# an employee's copy of a real customer's workspace: {company} is that customer's name
COMPANY_COPIES = [
    "{company} (test)",
    "{company} sandbox",
    "Copy of {company}",
    "{company} - demo",
    "{company}",
    "{company} 2",
]
# real solo and duo customers (freelancers, tiny studios) named like a sandbox or a person
LOOKALIKE_NAMES = [
    "My workspace",
    "My team",
    "{first}'s workspace",
    "{first} {last}",
    "{last} Studio",
    "{first} {last} Design",
    "{last} Consulting",
]
# plus-address tags of a second address of the same person (jane.doe+test@...)
PLUS_TAGS = ["test", "demo", "sandbox", "2", "dev", "trial"]
