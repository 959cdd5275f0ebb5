"""Every calibration parameter of the operator simulator, in one place (SPEC §9).

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

# --- brands (SPEC §2, §9) -------------------------------------------------------------------
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
    ("MUSIC", "无线音乐俱乐部", "vas", "vas_music", 6, 1, 1, "SP801", 0.08),
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
# trial packages: campaign-generated revenue (SPEC §4)
TRIALS = [
    ("CRBT_TRIAL", "彩铃体验包", "trial", "crbt", 2, 1, 1, None, 0.0),
    ("GPRS_TRIAL", "全球通GPRS体验包", "trial", "gprs", 5, 1, 1, None, 0.0),
]
RINGBACK_KEEP_RATE = 0.70  # share of ringback-trial users who keep ringback (001)
GPRS_TRIAL_KEEP_RATE = 0.45  # share of GPRS-trial users who buy a GPRS package afterwards
VAS_MONTHLY_ORDER_RATE = 0.010  # organic orders per non-holder per month, x penetration/0.1
VAS_MONTHLY_CANCEL_RATE = 0.03

# --- churn model: the planted truth (SPEC §5) ----------------------------------------------
# disengagement r >= 0 evolves per month: r' = max(0, R_DECAY*r + N(0, R_NOISE)) + drift shock
R_INIT_MEAN, R_INIT_SD = -0.6, 1.0
R_DECAY, R_NOISE = 0.85, 0.30
R_DRIFT_SHARE, R_DRIFT_SHOCK = 0.05, 1.2  # share of subscribers starting to drift away each month
USAGE_DECAY_PER_R = 0.35  # usage multiplier exp(-0.35 r): falling ARPU/MOU/DOU
OFFNET_PER_R = 0.10  # off-net call share rises with r
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
CHURN_TARGET = 0.033  # intercept calibrated so the first month's mean matches
PORT_OUT_SHARE = 0.15  # of voluntary churners
GROUP_MEMBER_CHURN_FACTOR = 0.5  # group members churn less
RETENTION_EFFECT = 0.5  # accepting a retention offer halves disengagement

# --- growth ---------------------------------------------------------------------------
NET_GROWTH_PER_MONTH = 0.015
PORT_IN_SHARE = 0.08
SUBS_PER_CUSTOMER_EXTRA = 0.10  # share of subscribers that are a customer's second line

# --- campaigns (SPEC §6) -----------------------------------------------------------------
# (type, offer product, name, share of base targeted, control share, control rate, uplift,
#  cost per contact, channel)
CAMPAIGNS = [
    ("trial_package", "CRBT_TRIAL", "彩铃体验包推广", 0.040, 0.15, 0.04, 0.16, 0.3, "sms"),
    ("trial_package", "GPRS_TRIAL", "全球通GPRS体验", 0.020, 0.15, 0.03, 0.12, 0.3, "sms"),
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
# cleanup findings planted for the warehouse to recover (SPEC §7); thresholds define each rule
GROUP_RULES = {
    "few_members_max": 2,  # a group or V-net with 1..2 current members has "few members"
    "high_churn_share": 0.30,  # >= 30% of the members at month start left in the month
    "high_churn_min_members": 5,
}
GROUP_DEFECT_SHARE = 0.012  # share of groups planted with each defect (at least one)

# --- output ------------------------------------------------------------------------------
ROWS_PER_PART = 1_000_000
