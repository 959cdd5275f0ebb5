"""Every calibration parameter of the operator simulator, in one place (the calibration targets below).

Public anchors (China Mobile 2008 annual results; decks 001/002): ARPU ~RMB 83/month, MOU ~492
min/month, average monthly churn ~3.3%, new business ~32% and data VAS ~26% of operating revenue,
trial-package revenue ~14% of data-VAS revenue, 70% of ringback-trial users keep ringback,
precision campaigns succeed 17-25% vs 3-5% untargeted, target vs control 38.08% vs 21.29%.
Brand shares and levels within those totals are *assumed*.
"""

from __future__ import annotations

# --- organisation -------------------------------------------------------------------------
# (code, name, share of subscribers); ~14 city branches (000 p.24)
CITIES = [
    ("GZ", "广州", 0.20),
    ("SZ", "深圳", 0.17),
    ("DG", "东莞", 0.10),
    ("FS", "佛山", 0.09),
    ("ST", "汕头", 0.05),
    ("ZH", "珠海", 0.03),
    ("HZ", "惠州", 0.05),
    ("ZS", "中山", 0.04),
    ("JM", "江门", 0.04),
    ("ZJ", "湛江", 0.06),
    ("MM", "茂名", 0.05),
    ("ZQ", "肇庆", 0.04),
    ("MZ", "梅州", 0.04),
    ("JY", "揭阳", 0.04),
]
COUNTIES_PER_CITY = 4
# outlets per city: own halls, franchised shops, social outlets; plus province-wide electronic channels
OUTLETS_PER_CITY = {"own_hall": 6, "franchise": 12, "social_outlet": 20}
ELECTRONIC_CHANNELS = ["10086热线", "网上营业厅", "短信营业厅", "WAP营业厅", "自助终端"]

# --- brands -------------------------------------------------------------------
# share: of subscribers; postpaid: share on postpaid; mou_out: median outgoing minutes/month;
# voice_rate: yuan/min; sms: median SMS/month; data_mb: median MB/month; plans: (id, name, fee)
BRANDS = {
    "GOTONE": dict(
        name="全球通",
        share=0.12,
        postpaid=0.88,
        mou_out=520,
        voice_rate=0.12,
        sms=60,
        data_mb=70,
        churn_offset=-0.7,
        contract_share=0.45,
        plans=[
            ("P_GT58", "全球通58元套餐", 58),
            ("P_GT88", "全球通88元套餐", 88),
            ("P_GT128", "全球通128元套餐", 128),
            ("P_GT188", "全球通188元套餐", 188),
            ("P_GT288", "全球通288元套餐", 288),
        ],
        plan_weights=[0.30, 0.30, 0.20, 0.13, 0.07],
    ),
    "MZONE": dict(
        name="动感地带",
        share=0.30,
        postpaid=0.25,
        mou_out=170,
        voice_rate=0.10,
        sms=320,
        data_mb=140,
        churn_offset=0.0,
        contract_share=0.10,
        plans=[
            ("P_MZ18", "动感地带18元音乐套餐", 18),
            ("P_MZ28", "动感地带28元短信套餐", 28),
            ("P_MZ38", "动感地带38元上网套餐", 38),
        ],
        plan_weights=[0.40, 0.40, 0.20],
    ),
    "EASYOWN": dict(
        name="神州行",
        share=0.58,
        postpaid=0.0,
        mou_out=260,
        voice_rate=0.13,
        sms=50,
        data_mb=15,
        churn_offset=0.35,
        contract_share=0.0,
        plans=[("P_EO0", "神州行畅听卡", 0), ("P_EO10", "神州行家园卡", 10)],
        plan_weights=[0.6, 0.4],
    ),
}
MOU_IN_RATIO = 0.85  # incoming / outgoing minutes
SMS_PRICE = 0.10  # yuan per P2P SMS
MMS_PRICE = 0.30
GPRS_PRICE_PER_MB = 0.05  # pay-per-use beyond packages
ROAM_RATE = 0.60  # yuan per roaming minute
ROAMER_SHARE = 0.06

# --- value-added services ---------------------------------------------------------------
# (product_id, name, type, category, fee, is_new_business, is_data_vas, sp_code, penetration)
VAS = [
    ("CRBT", "彩铃", "vas", "crbt", 5, 1, 1, None, 0.30),
    ("MUSIC", "无线音乐俱乐部", "vas", "vas_music", 6, 1, 1, "SP801", 0.05),
    ("NEWS", "手机报", "vas", "vas_info", 3, 1, 1, "SP802", 0.15),
    ("FETION", "飞信会员", "vas", "vas_im", 5, 1, 1, None, 0.05),
    ("MAIL139", "139手机邮箱", "vas", "vas_mail", 5, 1, 1, None, 0.05),
    ("D12580", "12580生活播报", "vas", "vas_info", 3, 1, 1, None, 0.04),
    ("MONTERNET", "移动梦网SP服务", "vas", "vas_sp", 8, 1, 1, "SP900", 0.06),
    ("GPRS5", "GPRS 5元包(30MB)", "vas", "gprs", 5, 1, 1, None, 0.10),
    ("GPRS20", "GPRS 20元包(150MB)", "vas", "gprs", 20, 1, 1, None, 0.04),
    ("CALLERID", "来电显示", "voice_vas", "vas_voice", 5, 1, 0, None, 0.35),
    ("FORWARD", "呼叫转移", "voice_vas", "vas_voice", 3, 1, 0, None, 0.04),
    ("VMAIL", "语音信箱", "voice_vas", "vas_voice", 3, 1, 0, None, 0.02),
]
GPRS_PACK_MB = {"GPRS5": 30, "GPRS20": 150, "GPRS_TRIAL": 50}
# trial packages: campaign-generated revenue (docs/kpis.md). Trial revenue is ~14% of data-VAS revenue (target):
# with data VAS ~RMB 22 a subscriber a month that is ~RMB 3, so the packages are priced as bundles (songs or
# traffic included) and the trial campaigns below reach a large part of the base every month
TRIALS = [
    ("CRBT_TRIAL", "彩铃体验包", "trial", "crbt", 15, 1, 1, None, 0.0),
    ("GPRS_TRIAL", "全球通GPRS体验包", "trial", "gprs", 30, 1, 1, None, 0.0),
]
TRIAL_MAX_MONTHS = 6  # a trial lasts 1..6 months (uniform), billed every month, then kept or cancelled
TRIAL_COOLDOWN = 6  # months after a trial before the subscriber can be offered the same trial again
RINGBACK_KEEP_RATE = 0.70  # share of ringback-trial users who keep ringback (001)
GPRS_TRIAL_KEEP_RATE = 0.45  # share of GPRS-trial users who buy a GPRS package afterwards
VAS_MONTHLY_ORDER_RATE = 0.010  # organic orders per non-holder per month, x penetration/0.1
VAS_MONTHLY_CANCEL_RATE = 0.03
# ringback gets many holders from trials (70% keep): a higher cancel rate keeps its penetration stationary
VAS_CANCEL_RATE = {"CRBT": 0.09}
DATA_USER_STOP_RATE = 0.02  # data users without a GPRS package who stop using data, per month

# --- churn model: the planted truth ----------------------------------------------
# disengagement r >= 0 evolves per month: r' = max(0, R_DECAY*r + N(0, R_NOISE)) + drift shock
R_INIT_MEAN, R_INIT_SD = -0.6, 1.0
R_DECAY, R_NOISE = 0.85, 0.30
R_DRIFT_SHARE, R_DRIFT_SHOCK = 0.05, 1.2  # share of subscribers starting to drift away each month
USAGE_DECAY_PER_R = 0.35  # usage multiplier exp(-0.35 r): falling ARPU/MOU/DOU
# off-net call share = a subscriber's own base + OFFNET_PER_R x r: heavy use of competitors is the visible
# face of disengagement (the "high-value leaking" segment), strong enough that a model can read r from it
OFFNET_PER_R = 0.50
OFFNET_BASE_BETA = (32, 128)  # base share ~ Beta(32, 128): mean 0.20, sd 0.032
COMPLAINT_BASE, COMPLAINT_PER_R = 0.012, 0.05
ARREARS_BASE, ARREARS_PER_R = 0.03, 0.10  # postpaid: chance of not paying the bill in full
# logit of next month's churn probability = intercept + sum of these weights x drivers
CHURN_WEIGHTS = {
    "disengagement": 0.90,  # falling ARPU/MOU and rising off-net share (both driven by r)
    "complaint": 0.80,  # complaint ticket in the previous month
    "contract_end": 1.30,  # contract ends in the month
    "low_tenure": 0.60,  # tenure under 6 months
    "arrears": 0.90,  # owes money at the previous month end
}
CHURN_TARGET = 0.0331  # one intercept, calibrated so the (stationary) first month averages this (China Mobile, H1 2009)
PORT_OUT_SHARE = 0.15  # of voluntary churners
GROUP_MEMBER_CHURN_FACTOR = 0.5  # group members churn less
RETENTION_EFFECT = 0.5  # accepting a retention offer halves disengagement

# --- growth ---------------------------------------------------------------------------
NET_GROWTH_PER_MONTH = 0.015
PORT_IN_SHARE = 0.08
SUBS_PER_CUSTOMER_EXTRA = 0.10  # share of subscribers that are a customer's second line

# --- campaigns -----------------------------------------------------------------
# (type, offer product, name, share of base targeted, control share, control rate, uplift,
#  cost per contact, channel)
CAMPAIGNS = [
    ("trial_package", "CRBT_TRIAL", "彩铃体验包推广", 0.160, 0.15, 0.2129, 0.1679, 0.3, "sms"),
    ("trial_package", "GPRS_TRIAL", "全球通GPRS体验", 0.020, 0.15, 0.2129, 0.1679, 0.3, "sms"),
    ("data_product", "GPRS5", "GPRS流量包营销", 0.030, 0.10, 0.03, 0.05, 0.2, "wap_push"),
    ("care", "CALLERID", "高价值客户关怀", 0.010, 0.20, 0.2129, 0.1679, 5.0, "outbound"),
    ("retention", "P_GT88", "高危客户挽留", 0.015, 0.20, 0.05, 0.20, 8.0, "outbound"),
    ("activation", "MUSIC", "沉默客户激活", 0.010, 0.10, 0.02, 0.04, 0.2, "ussd"),
]

# --- complaints ----------------------------------------------------------------------------
COMPLAINT_CATEGORIES = [
    "billing_dispute",
    "network_quality",
    "sp_charges",
    "service_attitude",
    "roaming",
    "porting",
    "other",
]
COMPLAINT_CATEGORY_WEIGHTS = [0.30, 0.25, 0.18, 0.08, 0.07, 0.04, 0.08]
COMPLAINT_CHANNELS = ["10086", "hall", "web", "regulator"]
COMPLAINT_CHANNEL_WEIGHTS = [0.75, 0.12, 0.10, 0.03]

# --- group customers (000 p.40-48) ---------------------------------------------------------
SUBS_PER_GROUP = 150  # one group per this many subscribers
GROUP_MEMBERS_MIN, GROUP_MEMBERS_MEDIAN = 12, 20
VNET_MEMBER_SHARE = 0.9
INDUSTRIES = [
    "government",
    "finance",
    "education",
    "healthcare",
    "transport_logistics",
    "manufacturing",
    "retail_trade",
    "energy",
    "construction_real_estate",
    "it_media",
    "services",
    "agriculture",
]
GROUP_PRODUCTS = [  # (product_id, name, category, fee range, share of groups holding it)
    ("GRP_VPMN", "集团V网", "group_vnet", (50, 300), 1.0),
    ("GRP_SMS", "集团短信", "group_sms", (100, 1000), 0.4),
    ("GRP_MAS", "MAS/ADC行业应用", "group_mas", (300, 3000), 0.2),
    ("GRP_LINE", "数据专线", "group_line", (1000, 8000), 0.1),
]
VNET_MEMBER_FEE = 5.0  # per member, billed on the member's bill (group_vnet)
# cleanup findings planted for the warehouse to recover (docs/marts.md); thresholds define each rule
GROUP_RULES = {
    "few_members_max": 2,  # a group or V-net with 1..2 current members has "few members"
    "high_churn_share": 0.30,  # >= 30% of the members at month start left in the month
    "high_churn_min_members": 5,
}
GROUP_DEFECT_SHARE = 0.012  # share of groups planted with each defect (at least one)

# --- output ------------------------------------------------------------------------------
ROWS_PER_PART = 1_000_000


# --- steady state (issue 9: churn must not drift) -------------------------------------------
# The population is warmed up before month 1: the disengagement process, complaints, short payments and
# churn-and-replacement run this many months, so month 1 starts from the process's stationary state and
# the one fixed churn model (intercept calibrated once) gives a flat monthly churn rate.
WARMUP_MONTHS = 48
CONTRACT_RENEW_SHARE = 0.70  # of subscribers whose contract ends in a month and who stay: a new one
CONTRACT_MONTHS = 24

# --- usage scale -------------------------------------------------------------------------------
# MOU (outgoing + incoming) ~492 min/month (China Mobile 2008): the brands' mou_out above are medians, this scales
# them so the population mean lands on the anchor after the plan, decay and partial-month effects
MOU_SCALE = 0.92

# --- handsets (the handset library: MMS, GPRS, KJava) -------------------------------
# (vendor, model, tac, gprs, mms, java, music, wap, share) - a 2008 province: basic phones without GPRS,
# many feature phones without Java or a music player, a few smartphones. TACs are invented but 8 digits.
HANDSETS = [
    ("Nokia", "1110", "35435600", 0, 0, 0, 0, 0, 0.050),
    ("Nokia", "1200", "35560800", 0, 0, 0, 0, 0, 0.040),
    ("Nokia", "1600", "35398200", 0, 0, 0, 0, 0, 0.030),
    ("Motorola", "C118", "35164400", 0, 0, 0, 0, 0, 0.020),
    ("Samsung", "C188", "35461700", 0, 0, 0, 0, 0, 0.020),
    ("Lenovo", "E210", "86012300", 0, 0, 0, 0, 0, 0.020),
    ("Amoi", "A102", "86045100", 0, 0, 0, 0, 0, 0.010),
    ("Nokia", "2610", "35292100", 1, 1, 0, 0, 1, 0.040),
    ("Nokia", "2626", "35321800", 1, 1, 0, 0, 1, 0.030),
    ("Nokia", "6070", "35439000", 1, 1, 0, 0, 1, 0.025),
    ("Motorola", "W220", "35352700", 1, 1, 0, 0, 1, 0.020),
    ("Motorola", "V3", "35226400", 1, 1, 0, 0, 1, 0.025),
    ("Samsung", "E258", "35487300", 1, 1, 0, 0, 1, 0.020),
    ("Samsung", "C3010", "35497400", 1, 1, 0, 0, 1, 0.015),
    ("Lenovo", "i909", "86027800", 1, 1, 0, 0, 1, 0.015),
    ("Amoi", "A8", "86051200", 1, 1, 0, 0, 1, 0.015),
    ("TCL", "i780", "86033500", 1, 1, 0, 0, 1, 0.015),
    ("Konka", "R6166", "86061900", 1, 1, 0, 0, 1, 0.015),
    ("ZTE", "F160", "86070400", 1, 1, 0, 0, 1, 0.015),
    ("Bird", "D660", "86081600", 1, 1, 0, 0, 1, 0.015),
    ("Gionee", "V6500", "86094200", 1, 1, 0, 0, 1, 0.010),
    ("Nokia", "2630", "35377100", 1, 1, 1, 0, 1, 0.035),
    ("Nokia", "6300", "35394000", 1, 1, 1, 0, 1, 0.030),
    ("Nokia", "3110c", "35413600", 1, 1, 1, 0, 1, 0.025),
    ("Motorola", "L7", "35251300", 1, 1, 1, 0, 1, 0.020),
    ("Motorola", "K1", "35326500", 1, 1, 1, 0, 1, 0.015),
    ("Samsung", "E748", "35529900", 1, 1, 1, 0, 1, 0.015),
    ("Samsung", "U608", "35541200", 1, 1, 1, 0, 1, 0.010),
    ("SonyEricsson", "K750c", "35303700", 1, 1, 1, 0, 1, 0.015),
    ("SonyEricsson", "K790c", "35442900", 1, 1, 1, 0, 1, 0.010),
    ("LG", "KG90", "35412200", 1, 1, 1, 0, 1, 0.010),
    ("Philips", "9@9q", "35458600", 1, 1, 1, 0, 1, 0.010),
    ("Lenovo", "P930", "86029100", 1, 1, 1, 0, 1, 0.010),
    ("Nokia", "5300", "35427700", 1, 1, 1, 1, 1, 0.025),
    ("Nokia", "5310", "35460300", 1, 1, 1, 1, 1, 0.020),
    ("Nokia", "7610", "35471900", 1, 1, 1, 1, 1, 0.010),
    ("SonyEricsson", "W550c", "35313800", 1, 1, 1, 1, 1, 0.015),
    ("SonyEricsson", "W810c", "35339600", 1, 1, 1, 1, 1, 0.015),
    ("SonyEricsson", "W910c", "35476500", 1, 1, 1, 1, 1, 0.010),
    ("Samsung", "F268", "35518300", 1, 1, 1, 1, 1, 0.010),
    ("Motorola", "E6", "35373400", 1, 1, 1, 1, 1, 0.010),
    ("Motorola", "ROKR E8", "35502800", 1, 1, 1, 1, 1, 0.010),
    ("Nokia", "N73", "35365200", 1, 1, 1, 1, 1, 0.025),
    ("Nokia", "N95", "35430100", 1, 1, 1, 1, 1, 0.015),
    ("Nokia", "E63", "35532600", 1, 1, 1, 1, 1, 0.010),
    ("Nokia", "N78", "35508400", 1, 1, 1, 1, 1, 0.010),
    ("Dopod", "P800", "35467300", 1, 1, 1, 1, 1, 0.010),
    ("Apple", "iPhone 3G", "01161200", 1, 1, 0, 1, 1, 0.005),
    ("BlackBerry", "8310", "35403800", 1, 1, 1, 0, 1, 0.005),
]
UNKNOWN_TAC_SHARE = 0.015  # handsets not in the library (grey imports): basic phones by definition
# data users: of subscribers whose handset supports GPRS, the share that uses mobile data at all.
# GPRS users were a minority in 2008 (*assumed* 30-40% of active subscribers, issue 9)
DATA_USER_SHARE = {"GOTONE": 0.50, "MZONE": 0.62, "EASYOWN": 0.36}

# --- what each service needs from the handset (a TAC outside the library is a basic phone) ----------
# one of gprs|mms|java|music|wap|none; a GPRS package also needs the subscriber to be a data user
PRODUCT_NEEDS = {
    "CRBT": "none",
    "CRBT_TRIAL": "none",
    "MUSIC": "music",
    "NEWS": "mms",  # the mobile newspaper is delivered as MMS
    "FETION": "java",
    "MAIL139": "wap",
    "D12580": "none",
    "MONTERNET": "wap",
    "GPRS5": "gprs",
    "GPRS20": "gprs",
    "GPRS_TRIAL": "gprs",
    "CALLERID": "none",
    "FORWARD": "none",
    "VMAIL": "none",
}

# --- bundles: planted co-holding (issue 9 §4; 001 @65%) -----------------------------------------------
# (antecedent, consequent, planted_factor): holding the antecedent multiplies the chance of holding the
# consequent at start by the factor, and adds log(factor) to the logit of ordering it (propensity below)
BUNDLES = [
    ("CRBT", "MUSIC", 8.0),
    ("FETION", "GPRS5", 5.0),
    ("D12580", "NEWS", 5.0),
]

# --- planted propensities (issue 9 §4): the true model of "a non-holder in month t orders P in
# t+1". logit p = intercept + sum(weight x driver), drivers from month t's data (driver names below);
# the intercept is calibrated once so the first month's capable non-holders order at `target` on average.
# A handset without PRODUCT_NEEDS[P] gives p = 0. Bundles add log(planted_factor) x holds_<antecedent>.
# drivers: log_data_mb, log_sms (ln(1 + month's total)), log_contacts (ln(1 + average daily distinct
# contacts)), mzone, gotone (brand), young (age < 30), older (age >= 40), tenure_years (capped at 10),
# holds_<PRODUCT> (held at month t's end)
PROPENSITY = {
    "CRBT": dict(target=0.020, weights={"log_contacts": 1.20, "holds_CALLERID": 1.20, "mzone": 0.80}),
    "GPRS5": dict(target=0.008, weights={"log_data_mb": 0.55, "mzone": 0.50}),
    "FETION": dict(target=0.005, weights={"log_sms": 0.60, "mzone": 0.80}),
    "MUSIC": dict(target=0.012, weights={"young": 0.90, "mzone": 0.30}),
    "NEWS": dict(target=0.010, weights={"gotone": 0.90, "older": 0.70, "tenure_years": 0.15}),
}
MARKETING_OPT_OUT_SHARE = 0.03  # subscribers who refused marketing contact (never in a campaign)

# --- the campaign loop: the platform's target lists run as next month's campaigns (issue 9 §5) ----
# planted uplift of a rule's treated over its control, by the rule's precedence (how its list was extracted)
PLATFORM_UPLIFT = {"model": 0.12, "experience": 0.08, "crm_group": 0.05, "default": 0.03}
# the control group's response rate, by the campaign type of the offered product
PLATFORM_CONTROL_RATE = {"retention": 0.05, "trial_package": 0.10, "data_product": 0.04, "activation": 0.03}
# cost per treated (contacted) subscriber, yuan, by channel
PLATFORM_COST_PER_CONTACT = {"sms": 0.1, "ussd": 0.1, "wap_push": 0.2, "hall": 2.0, "10086": 3.0, "outbound": 5.0}
