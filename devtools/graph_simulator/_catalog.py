"""Static vocabulary of the synthetic tenant: names, applications, places, outcomes.

Kept apart from the generator so the generator reads as logic, not as data. Values follow what
Microsoft Graph's ``signIn`` resource (beta) returns; enum spellings are Graph's own.
"""

from __future__ import annotations

from typing import NamedTuple

#: (display, ascii) pairs: display names carry accents and non-Latin scripts on purpose, UPNs
#: use the ascii form, as Entra tenants usually do.
FIRST_NAMES: tuple[tuple[str, str], ...] = (
    ("Zoë", "zoe"),
    ("Józef", "jozef"),
    ("李", "li"),
    ("Søren", "soren"),
    ("Amélie", "amelie"),
    ("Ana", "ana"),
    ("Björn", "bjorn"),
    ("Chloé", "chloe"),
    ("David", "david"),
    ("Emma", "emma"),
    ("François", "francois"),
    ("Grace", "grace"),
    ("Hiroshi", "hiroshi"),
    ("Ingrid", "ingrid"),
    ("James", "james"),
    ("Katarzyna", "katarzyna"),
    ("Liam", "liam"),
    ("María", "maria"),
    ("Nikolai", "nikolai"),
    ("Olivia", "olivia"),
    ("Priya", "priya"),
    ("Raúl", "raul"),
    ("Siobhán", "siobhan"),
    ("Tomás", "tomas"),
    ("Uwe", "uwe"),
    ("Wei", "wei"),
    ("Yara", "yara"),
    ("Ömer", "omer"),
    ("Ngozi", "ngozi"),
    ("Мария", "mariya"),
)

LAST_NAMES: tuple[tuple[str, str], ...] = (
    ("Ångström", "angstrom"),
    ("Ğüneş", "gunes"),
    ("雷", "lei"),
    ("Nørgaard", "norgaard"),
    ("Dubois", "dubois"),
    ("García", "garcia"),
    ("Müller", "muller"),
    ("O'Brien", "obrien"),
    ("Smith", "smith"),
    ("Kowalski", "kowalski"),
    ("Tanaka", "tanaka"),
    ("Johansson", "johansson"),
    ("Okafor", "okafor"),
    ("Patel", "patel"),
    ("Rossi", "rossi"),
    ("Schneider", "schneider"),
    ("Nguyễn", "nguyen"),
    ("Fernández", "fernandez"),
    ("van der Berg", "vanderberg"),
    ("Иванова", "ivanova"),
    ("Chen", "chen"),
    ("Wójcik", "wojcik"),
    ("Yılmaz", "yilmaz"),
    ("Lefèvre", "lefevre"),
    ("Brown", "brown"),
)

GUEST_DOMAINS: tuple[str, ...] = ("gmail.com", "outlook.com", "fabrikam.com", "partner.example")


class App(NamedTuple):
    """A client application users sign in to, and the resource it asks a token for."""

    name: str
    app_id: str
    resource_name: str
    resource_id: str


_GRAPH = ("Microsoft Graph", "00000003-0000-0000-c000-000000000000")
_ARM = ("Windows Azure Service Management API", "797f4846-ba00-4fd7-ba43-dac1f8f63013")
_EXO = ("Office 365 Exchange Online", "00000002-0000-0ff1-ce00-000000000000")
_SPO = ("Office 365 SharePoint Online", "00000003-0000-0ff1-ce00-000000000000")

#: First-party applications with their public app ids.
KNOWN_APPS: tuple[App, ...] = (
    App("Microsoft Teams", "1fec8e78-bce4-4aaf-ab1b-5451cc387264", *_GRAPH),
    App(*_EXO, *_EXO),
    App("OfficeHome", "4765445b-32c6-49b0-83e6-1d93765276ca", *_GRAPH),
    App("Azure Portal", "c44b4083-3bb0-49c1-b47d-974e53cbdf3c", *_ARM),
    App(*_SPO, *_SPO),
    App("Microsoft Office", "d3590ed6-52b3-4102-aeff-aad2292ab01c", *_EXO),
    App("Outlook Mobile", "27922004-5251-4030-b22d-91ecd9a37ea4", *_EXO),
    App("Microsoft Azure CLI", "04b07795-8ddb-461a-bbee-02f9e1bf7b46", *_ARM),
    App("Azure DevOps", "499b84ac-1321-427f-aa17-267ca6975798", *_GRAPH),
    App("Visual Studio Code", "aebc6443-996d-45c2-90f0-388ff96faa56", *_GRAPH),
)

#: Gallery / line-of-business applications; their ids are derived per tenant.
OTHER_APP_NAMES: tuple[str, ...] = (
    "Salesforce",
    "ServiceNow",
    "Workday",
    "GitHub Enterprise Cloud",
    "Slack",
    "Zoom",
    "Atlassian Cloud",
    "AWS IAM Identity Center",
    "Snowflake",
    "Tableau Cloud",
    "SAP Concur",
    "DocuSign",
    "Box",
    "Payroll Portal",
    "Expense Tracker",
    "HR Self-Service",
    "Vendor Portal",
)

#: Workload identities signing in as themselves: (name, resource it calls).
SERVICE_PRINCIPALS: tuple[tuple[str, tuple[str, str]], ...] = (
    ("etl-airflow-prod", _GRAPH),
    ("github-actions-deploy", _ARM),
    ("terraform-ci", _ARM),
    ("backup-agent", ("Azure Storage", "e406a681-f3d4-42a8-90b6-c2b029497af1")),
    ("monitoring-exporter", ("Log Analytics API", "ca7f3f0b-7d91-482c-8e09-c5d840d0eac5")),
    ("hr-sync-connector", _GRAPH),
    ("siem-collector", _GRAPH),
)

_KEY_VAULT = ("Azure Key Vault", "cfa8b339-82a2-471a-a3c9-0fc0be7a4093")
#: Managed identities: (name, msiType, resource it calls).
MANAGED_IDENTITIES: tuple[tuple[str, str, tuple[str, str]], ...] = (
    ("vm-web-prod-01", "systemAssigned", _KEY_VAULT),
    ("func-invoice-processor", "systemAssigned", ("Azure Storage", _KEY_VAULT[1])),
    ("aks-agentpool-identity", "userAssigned", _ARM),
    ("id-data-pipeline", "userAssigned", _KEY_VAULT),
    ("logic-app-approvals", "systemAssigned", _GRAPH),
)


class Place(NamedTuple):
    """A sign-in location with the network it is seen from."""

    city: str
    state: str
    country: str
    latitude: float
    longitude: float
    ipv4_prefix: str
    ipv6_prefix: str
    asn: int


#: The first ``HOME_PLACES`` entries are where employees live; the rest show up as travel or
#: attacks, so risky sign-ins come mostly from there.
PLACES: tuple[Place, ...] = (
    Place("Seattle", "Washington", "US", 47.6062, -122.3321, "131.107", "2001:4898", 8075),
    Place("New York", "New York", "US", 40.7128, -74.006, "72.229", "2600:1700", 7018),
    Place("London", "England", "GB", 51.5072, -0.1276, "81.2", "2a00:23c4", 2856),
    Place("Berlin", "Berlin", "DE", 52.52, 13.405, "91.64", "2003:e5", 3320),
    Place("Amsterdam", "Noord-Holland", "NL", 52.3676, 4.9041, "145.53", "2a02:a46", 1136),
    Place("Warszawa", "Mazowieckie", "PL", 52.2297, 21.0122, "83.24", "2a01:110f", 5617),
    Place("Bengaluru", "Karnataka", "IN", 12.9716, 77.5946, "49.207", "2401:4900", 45609),
    Place("São Paulo", "São Paulo", "BR", -23.5505, -46.6333, "177.68", "2804:14c", 28573),
    Place("Tokyo", "Tokyo", "JP", 35.6762, 139.6503, "126.114", "2400:4050", 4713),
    Place("Toronto", "Ontario", "CA", 43.6532, -79.3832, "99.224", "2607:fea8", 812),
    Place("Sydney", "New South Wales", "AU", -33.8688, 151.2093, "110.144", "2001:8003", 1221),
    Place("Singapore", "Singapore", "SG", 1.3521, 103.8198, "116.88", "2406:3003", 9506),
    Place("İstanbul", "İstanbul", "TR", 41.0082, 28.9784, "88.230", "2a02:e0", 9121),
    Place("Lagos", "Lagos", "NG", 6.5244, 3.3792, "105.112", "2c0f:f5c0", 29465),
    Place("Moscow", "Moscow", "RU", 55.7558, 37.6173, "95.24", "2a00:1fa0", 8359),
)
HOME_PLACES = 11
#: Azure regions workload identities run in (indexes into PLACES).
CLOUD_PLACES: tuple[int, ...] = (0, 3, 4, 11)

CLIENT_APPS: tuple[str, ...] = (
    "Browser",
    "Mobile Apps and Desktop clients",
    "Exchange ActiveSync",
    "Other clients",
    "IMAP4",
)

#: (operatingSystem, browser, userAgent) a user's main device runs.
DEVICE_PROFILES: tuple[tuple[str, str, str], ...] = (
    (
        "Windows10",
        "Edge 124.0.2478",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.80",
    ),
    (
        "Windows10",
        "Chrome 124.0.0",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/124.0.0.0 Safari/537.36",
    ),
    (
        "MacOs",
        "Safari 17.4",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.4.1 Safari/605.1.15",
    ),
    (
        "MacOs",
        "Firefox 125.0",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.4; rv:125.0) Gecko/20100101 Firefox/125.0",
    ),
    (
        "Ios",
        "Mobile Safari 17.4",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    ),
    (
        "Android",
        "Chrome Mobile 124.0.6367",
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/124.0.6367.82 Mobile Safari/537.36",
    ),
    (
        "Linux",
        "Firefox 125.0",
        "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    ),
)
RICH_CLIENT = "Rich Client 4.61.0.0"
RICH_CLIENT_AGENT = "Microsoft Authentication Library (MSAL) 4.61.0.0"
TRUST_TYPES: tuple[str, ...] = ("Azure AD joined", "Hybrid Azure AD joined", "Azure AD registered")


class Outcome(NamedTuple):
    error_code: int
    failure_reason: str | None
    additional_details: str | None


SUCCESS = 0
INVALID_PASSWORD = 1
MFA_REQUIRED = 2
BLOCKED_BY_CA = 3
LOCKED = 4
BAD_CLIENT_SECRET = 5
OUTCOMES: tuple[Outcome, ...] = (
    Outcome(0, None, None),
    Outcome(
        50126,
        "Error validating credentials due to invalid username or password.",
        "The user didn't enter the right credentials. It's expected to see some number of these "
        "errors in your logs due to users making mistakes.",
    ),
    Outcome(
        50074,
        "Strong Authentication is required.",
        "The user didn't complete the MFA prompt. They may have decided not to authenticate, "
        "timed out while doing other work, or has an issue with their authentication setup.",
    ),
    Outcome(
        53003,
        "Access has been blocked by Conditional Access policies. The access policy does not "
        "allow token issuance.",
        None,
    ),
    Outcome(
        50053,
        "Account is locked because user tried to sign in too many times with an incorrect "
        "user ID or password.",
        None,
    ),
    Outcome(7000215, "Invalid client secret is provided.", None),
)

#: Second factors: (authenticationMethod, authenticationMethodDetail).
MFA_FIDO2 = 1
MFA_METHODS: tuple[tuple[str, str], ...] = (
    ("Mobile app notification", "Microsoft Authenticator"),
    ("FIDO2 security key", "YubiKey 5 NFC"),
    ("Text message", "+X XXXXXXXX52"),
)
#: Marker for "MFA claim already in the token" (refresh / SSO sign-ins).
MFA_PREVIOUSLY_SATISFIED = len(MFA_METHODS)
NO_MFA = -1

#: (riskLevelAggregated, riskLevelDuringSignIn, riskState, riskDetail, riskEventTypes_v2)
RISKS: tuple[tuple[str, str, str, str, tuple[str, ...]], ...] = (
    ("none", "none", "none", "none", ()),
    ("low", "low", "atRisk", "none", ("unfamiliarFeatures",)),
    ("medium", "medium", "atRisk", "none", ("anonymizedIPAddress",)),
    ("high", "high", "atRisk", "none", ("unlikelyTravel", "maliciousIPAddress")),
    ("medium", "medium", "remediated", "userPassedMFADrivenByRiskBasedPolicy", ("unlikelyTravel",)),
)

#: Conditional Access policies every user sign-in is evaluated against.
CA_POLICIES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("Require MFA for all users", "0a1f6f4e-1b57-4c4c-9a58-1f0c2b7c5a01", ("Mfa",)),
    ("Block legacy authentication", "5b2c8d3e-6a4f-4e1d-8c7b-2e9f3a4b6c02", ("Block",)),
    (
        "Require compliant device for admin portals",
        "9c3d0e5f-7b6a-4f2e-9d8c-3f0a4b5c7d03",
        ("RequireCompliantDevice",),
    ),
)


# ---- directory audits -----------------------------------------------------------------


class Activity(NamedTuple):
    """A directory audit activity and how it usually happens."""

    name: str  # activityDisplayName, in Graph's spelling (some end with a space)
    category: str
    service: str  # loggedByService
    operation: str  # operationType
    weight: float  # relative volume
    app_share: float  # share initiated by an application
    system_share: float  # share initiated by nobody (system activity)
    failure_share: float
    failure_reasons: tuple[str, ...]


_NO_PRIVILEGE = "Insufficient privileges to complete the operation."
_PASSWORD_POLICY = (
    "User submitted a new password that does not meet the password policy requirements."
)

# Activity codes: indexes into ACTIVITIES.
(
    ADD_GROUP_MEMBER, REMOVE_GROUP_MEMBER, UPDATE_USER, ADD_ROLE_MEMBER, REMOVE_ROLE_MEMBER,
    PIM_ACTIVATION, RESET_USER_PASSWORD, RESET_BY_ADMIN, RESET_SELF_SERVICE, ADD_USER,
    DELETE_USER, APP_CREDENTIALS, CONSENT, ADD_SERVICE_PRINCIPAL, UPDATE_CA_POLICY,
    SET_COMPANY_INFORMATION,
) = range(16)  # fmt: skip

CORE, SSPR, PIM, CA = (
    "Core Directory",
    "Self-service Password Management",
    "PIM",
    "Conditional Access",
)
#: The record id prefix each service writes (``Directory_<correlationId>_<code>_<number>``).
ID_PREFIXES: dict[str, str] = {CORE: "Directory", SSPR: "SSGM", PIM: "PIM", CA: "IPCGraph"}

ACTIVITIES: tuple[Activity, ...] = (
    Activity(
        "Add member to group", "GroupManagement", CORE, "Add", 20, 0.3, 0.03, 0.03,
        ("One or more added object references already exist for the following modified "
         "properties: 'members'.",),
    ),
    Activity(
        "Remove member from group", "GroupManagement", CORE, "Delete", 9, 0.3, 0.04, 0.02,
        ("Resource does not exist or one of its queried reference-property objects are not "
         "present.",),
    ),
    Activity("Update user", "UserManagement", CORE, "Update", 22, 0.4, 0.04, 0.02,
             (_NO_PRIVILEGE,)),
    Activity(
        "Add member to role", "RoleManagement", CORE, "Assign", 4, 0.15, 0.0, 0.03,
        ("A conflicting object with one or more of the specified property values is present "
         "in the directory.", _NO_PRIVILEGE),
    ),
    Activity("Remove member from role", "RoleManagement", CORE, "Delete", 2, 0.15, 0.0, 0.02,
             (_NO_PRIVILEGE,)),
    Activity(
        "Add member to role completed (PIM activation)", "RoleManagement", PIM, "Assign", 3,
        0.0, 0.0, 0.04, ("The request requires approval and was denied.",
                         "Multi-factor authentication is required to activate this role."),
    ),
    Activity("Reset user password", "UserManagement", CORE, "Update", 4, 0.0, 0.0, 0.03,
             (_NO_PRIVILEGE,)),
    Activity("Reset password (by admin)", "UserManagement", SSPR, "Update", 3, 0.0, 0.0, 0.05,
             (_PASSWORD_POLICY,)),
    Activity(
        "Reset password (self-service)", "UserManagement", SSPR, "Update", 4, 0.0, 0.0, 0.15,
        (_PASSWORD_POLICY, "User did not complete the verification required to reset the "
         "password.", "User's account is locked out."),
    ),
    Activity(
        "Add user", "UserManagement", CORE, "Add", 4, 0.5, 0.0, 0.03,
        ("Another object with the same value for property userPrincipalName already exists.",),
    ),
    Activity("Delete user", "UserManagement", CORE, "Delete", 2, 0.3, 0.1, 0.02,
             (_NO_PRIVILEGE,)),
    Activity(
        "Update application – Certificates and secrets management ", "ApplicationManagement",
        CORE, "Update", 4, 0.3, 0.0, 0.02, (_NO_PRIVILEGE,),
    ),
    Activity(
        "Consent to application", "ApplicationManagement", CORE, "Assign", 3, 0.0, 0.0, 0.06,
        ("Microsoft.Online.Security.UserConsentBlockedForRiskyAppsException",
         "Admin approval is required for the requested permissions."),
    ),
    Activity(
        "Add service principal", "ApplicationManagement", CORE, "Add", 1.5, 0.4, 0.0, 0.02,
        ("Another object with the same value for property servicePrincipalNames already "
         "exists.",),
    ),
    Activity(
        "Update conditional access policy", "Policy", CA, "Update", 1.5, 0.0, 0.0, 0.02,
        ("The policy is invalid: at least one grant or session control is required.",),
    ),
    Activity("Set company information", "DirectoryManagement", CORE, "Update", 0.5, 0.0, 0.0,
             0.0, (_NO_PRIVILEGE,)),
)  # fmt: skip

DIRECTORY_AUDIT_CATEGORIES: tuple[str, ...] = (
    "ApplicationManagement",
    "DirectoryManagement",
    "GroupManagement",
    "Policy",
    "RoleManagement",
    "UserManagement",
)
TIMEOUT_SHARE = 0.003
TIMEOUT_REASON = "The operation timed out before it could complete."
#: Justifications PIM writes into ``resultReason`` of successful activations.
PIM_JUSTIFICATIONS: tuple[str, ...] = (
    "Monthly patching window",
    "Investigating INC-20411",
    "Break-glass drill",
    "Onboarding new subscription",
    "Audit evidence for SOX review",
    "Renouvellement des certificats – équipe sécurité",
)

#: Directory roles: (displayName, roleTemplateId, Role.WellKnownObjectName), common first.
ROLES: tuple[tuple[str, str, str], ...] = (
    ("Global Reader", "f2ef992c-3afb-46b9-b7cf-a126ee74c451", "GlobalReader"),
    ("Helpdesk Administrator", "729827e3-9c14-49f7-bb1b-9608f156bbb8", "HelpDeskAdministrator"),
    ("User Administrator", "fe930be7-5e62-47db-91af-98c3a49a38b1", "UserAccountAdministrator"),
    ("Security Reader", "5d6b6bb7-de71-4623-b4af-96380a352509", "SecurityReader"),
    (
        "Application Administrator",
        "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3",
        "ApplicationAdministrator",
    ),
    (
        "Exchange Administrator",
        "29232cdf-9323-42fd-ade2-1d097af3e4de",
        "ExchangeServiceAdministrator",
    ),
    ("Security Administrator", "194ae4cb-b126-40b2-bd5b-6091b380977d", "SecurityAdministrator"),
    (
        "Conditional Access Administrator",
        "b1be1c3e-b65d-4f19-8427-f6fa0d97feb9",
        "ConditionalAccessAdministrator",
    ),
    (
        "Privileged Role Administrator",
        "e8611ab8-c189-46e8-94e1-60213ab1f814",
        "PrivilegedRoleAdministrator",
    ),
    ("Global Administrator", "62e90394-69f5-4237-9190-012177145e10", "CompanyAdministrator"),
)

#: Groups: (displayName, groupType). Display names carry accents and non-Latin scripts.
GROUPS: tuple[tuple[str, str], ...] = (
    ("All Employees", "azureAD"),
    ("Finance – Approvers", "unifiedGroups"),
    ("Équipe Paris", "unifiedGroups"),
    ("開発チーム", "unifiedGroups"),
    ("VPN Users", "azureAD"),
    ("SG-Azure-Subscription-Owners", "azureAD"),
    ("M365 E5 Licensed", "azureAD"),
    ("Sales EMEA", "unifiedGroups"),
    ("Helpdesk Tier 1", "azureAD"),
    ("Partner Portal Guests", "azureAD"),
    ("Data Platform Engineers", "unifiedGroups"),
    ("Команда поддержки", "unifiedGroups"),
    ("MFA Exclusions – Break Glass", "azureAD"),
    ("Zoë's Book Club", "unifiedGroups"),
    ("Conditional Access Pilot", "azureAD"),
    ("Airflow Operators", "azureAD"),
)

#: "Update user" changes: (property, oldValue, newValue), JSON-encoded lists on the wire.
USER_CHANGES: tuple[tuple[str, list[object], list[object]], ...] = (
    ("Department", ["Finance"], ["Sales"]),
    ("JobTitle", ["Analyst"], ["Senior Analyst"]),
    ("AccountEnabled", [True], [False]),
    ("UsageLocation", ["US"], ["DE"]),
    ("Department", ["Vertrieb"], ["Übersetzung & Lokalisierung"]),
    ("MobilePhone", [], ["+1 555 0100"]),
)

#: Company settings changed by "Set company information": (property, oldValue, newValue).
COMPANY_CHANGES: tuple[tuple[str, list[str], list[str]], ...] = (
    ("TechnicalNotificationMails", ["it-alerts@{domain}"], ["secops@{domain}"]),
    ("PrivacyStatementUrl", [], ["https://www.{domain}/privacy"]),
)

#: Applications acting on the directory without being one of the tenant's workloads; Graph
#: sends their appId null.
FIRST_PARTY_ACTORS: tuple[str, ...] = ("Microsoft Substrate Management", "MS-PIM")
#: Which tenant workloads (by name) do which kind of directory work; first-party actors by name.
USER_ADMIN_APPS: tuple[str, ...] = ("hr-sync-connector", "Microsoft Substrate Management")
ROLE_ADMIN_APPS: tuple[str, ...] = ("MS-PIM",)
APP_ADMIN_APPS: tuple[str, ...] = ("terraform-ci", "github-actions-deploy")

#: (state before, state after) of "Update conditional access policy".
CA_STATE_CHANGES: tuple[tuple[str, str], ...] = (
    ("enabledForReportingButNotEnforced", "enabled"),
    ("enabled", "enabledForReportingButNotEnforced"),
    ("disabled", "enabled"),
)
CA_BUILT_IN_CONTROLS: dict[str, str] = {
    "Mfa": "mfa",
    "Block": "block",
    "RequireCompliantDevice": "compliantDevice",
}
