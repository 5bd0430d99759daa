"""Warning codes the statistics engine (and the results service) attach to results.

Results carry codes, never sentences: the app layer shows :data:`MESSAGES`
``[code][locale]`` in the reader's language. Each sentence is short and plain.
"""

ZERO_CONTROL_MEAN = "ZERO_CONTROL_MEAN"
NEGATIVE_CONTROL_MEAN = "NEGATIVE_CONTROL_MEAN"
ZERO_DENOMINATOR = "ZERO_DENOMINATOR"
LOW_SAMPLE = "LOW_SAMPLE"
NO_VARIANCE = "NO_VARIANCE"
NO_COVARIATE_INFORMATION = "NO_COVARIATE_INFORMATION"
SRM = "SRM"
MULTIPLE_EXPOSURES = "MULTIPLE_EXPOSURES"
SEGMENTS_EXPLORATORY = "SEGMENTS_EXPLORATORY"
SEGMENTS_PRE_REGISTERED = "SEGMENTS_PRE_REGISTERED"
SEGMENT_AFTER_EXPOSURE = "SEGMENT_AFTER_EXPOSURE"
SEGMENT_IS_CLUSTER = "SEGMENT_IS_CLUSTER"
SEGMENT_LEVELS_POOLED = "SEGMENT_LEVELS_POOLED"
# Attribution (reason codes of stats.attribution and stats.multilevel, and the
# attribution service's own).
NO_CONVERSIONS = "NO_CONVERSIONS"
NO_TOUCHPOINTS = "NO_TOUCHPOINTS"
NO_TIMESTAMPS = "NO_TIMESTAMPS"
TOO_MANY_TYPES = "TOO_MANY_TYPES"
LINEAR_PROBABILITY_MODEL = "LINEAR_PROBABILITY_MODEL"
CUSTOMERS_SPLIT_BY_REP = "CUSTOMERS_SPLIT_BY_REP"
CUSTOMER_LEVEL_NOT_IDENTIFIED = "CUSTOMER_LEVEL_NOT_IDENTIFIED"
MODEL_NOT_CONVERGED = "MODEL_NOT_CONVERGED"
TOO_FEW_GROUPS = "TOO_FEW_GROUPS"
RATIO_NUMERATOR = "RATIO_NUMERATOR"
NO_UNITS = "NO_UNITS"
UNITS_WITHOUT_REP = "UNITS_WITHOUT_REP"

#: Fewer units than this in a variant earn :data:`LOW_SAMPLE` from a comparison.
LOW_SAMPLE_UNITS = 100

MESSAGES: dict[str, dict[str, str]] = {
    ZERO_CONTROL_MEAN: {
        "en": "The control average is zero, so there is no relative lift.",
        "zh_CN": "对照组均值为零，无法计算相对提升。",
    },
    NEGATIVE_CONTROL_MEAN: {
        "en": "The control average is negative; the relative lift is measured "
        "against its size.",
        "zh_CN": "对照组均值为负，相对提升按其绝对值计算。",
    },
    ZERO_DENOMINATOR: {
        "en": "The ratio's denominator is zero in a variant, so the ratio is "
        "undefined.",
        "zh_CN": "有变体的比率分母为零，无法计算比率。",
    },
    LOW_SAMPLE: {
        "en": "Few units so far: treat these results with caution.",
        "zh_CN": "实验单元还很少，请谨慎看待结果。",
    },
    NO_VARIANCE: {
        "en": "Every unit has the same value within each variant, so there is no "
        "confidence interval or p-value.",
        "zh_CN": "每个变体内所有实验单元取值相同，无法计算置信区间和 p 值。",
    },
    NO_COVARIATE_INFORMATION: {
        "en": "The pre-experiment data does not help for this metric, so CUPED "
        "was not applied.",
        "zh_CN": "实验前数据对该指标没有帮助，未应用 CUPED 方差缩减。",
    },
    SRM: {
        "en": "The variants' unit counts do not match the planned split (sample "
        "ratio mismatch). Check the assignment before trusting the results.",
        "zh_CN": "各变体的实验单元数与计划比例不符（样本比例失衡，SRM）。"
        "请先检查分组，再参考结果。",
    },
    MULTIPLE_EXPOSURES: {
        "en": "Some units met more than one variant.",
        "zh_CN": "部分实验单元曝光于多个变体。",
    },
    SEGMENTS_EXPLORATORY: {
        "en": "Exploratory: this breakdown was not pre-registered. With many "
        "segments some differ by chance; treat a striking one as a hypothesis.",
        "zh_CN": "仅供探索：该细分未预先登记。细分越多，越可能有细分因偶然而不同；"
        "醒目的细分只能作为新假设。",
    },
    SEGMENTS_PRE_REGISTERED: {
        "en": "The design's pre-registered text names this dimension, so this "
        "breakdown was planned. Other dimensions remain exploratory.",
        "zh_CN": "实验设计预先登记的内容提到了这一维度，因此该细分是事先计划的；"
        "其他维度的细分仍仅供探索。",
    },
    SEGMENT_AFTER_EXPOSURE: {
        "en": "This dimension is an event property observed after exposure: the "
        "variant may have changed it, so segments may not compare like with like.",
        "zh_CN": "该维度是曝光后才观察到的事件属性，可能受变体影响，"
        "各细分内的比较未必公平。",
    },
    SEGMENT_IS_CLUSTER: {
        "en": "Units were randomised by this dimension, so each segment holds "
        "one variant only and cannot be compared within itself.",
        "zh_CN": "实验按该维度整群随机，每个细分只含一个变体，无法在细分内比较。",
    },
    SEGMENT_LEVELS_POOLED: {
        "en": "Only the 20 levels with the most units are shown; the others are "
        "pooled as (other).",
        "zh_CN": "仅单独显示实验单元最多的 20 个取值，其余合并为“其他”。",
    },
    NO_CONVERSIONS: {
        "en": "No conversions yet, so there is nothing to attribute.",
        "zh_CN": "尚无转化，无法归因。",
    },
    NO_TOUCHPOINTS: {
        "en": "No conversion had a tracked touchpoint before it.",
        "zh_CN": "转化前均无可追踪的触点。",
    },
    NO_TIMESTAMPS: {
        "en": "Some touchpoints have no time, so time-decay attribution is not shown.",
        "zh_CN": "部分触点缺少时间，无法进行时间衰减归因。",
    },
    TOO_MANY_TYPES: {
        "en": "Too many touchpoint types for exact Shapley values (16 at most).",
        "zh_CN": "触点类型过多，无法精确计算 Shapley 值（最多 16 种）。",
    },
    LINEAR_PROBABILITY_MODEL: {
        "en": "The outcome is yes/no, so this is a linear probability model: "
        "effects are differences in probability.",
        "zh_CN": "结果为是/否，采用线性概率模型：效应为概率之差。",
    },
    CUSTOMERS_SPLIT_BY_REP: {
        "en": "Some customers were served by more than one rep, so the customer "
        "level is each customer with each rep.",
        "zh_CN": "部分客户由多名销售代表服务，客户层按“客户 × 销售代表”计算。",
    },
    CUSTOMER_LEVEL_NOT_IDENTIFIED: {
        "en": "Each customer has a single unit, so customer and interaction "
        "variance cannot be told apart; the customer share is set to 0.",
        "zh_CN": "每个客户只有一个实验单元，无法区分客户层与互动层方差，"
        "客户层占比记为 0。",
    },
    MODEL_NOT_CONVERGED: {
        "en": "The mixed model did not converge: treat the variance shares with "
        "caution.",
        "zh_CN": "混合模型未收敛，请谨慎看待方差占比。",
    },
    TOO_FEW_GROUPS: {
        "en": "Too few reps or segments to estimate how much the effect varies "
        "between them; effects are not shrunk.",
        "zh_CN": "销售代表或细分过少，无法估计效应在其间的差异，未做收缩。",
    },
    RATIO_NUMERATOR: {
        "en": "This is a ratio metric: attribution uses each unit's numerator.",
        "zh_CN": "该指标为比率指标：归因使用每个实验单元的分子。",
    },
    NO_UNITS: {
        "en": "The control and at least one other variant need units before "
        "the mixed model can be fitted.",
        "zh_CN": "对照组和至少一个其他变体都有实验单元后，才能拟合混合模型。",
    },
    UNITS_WITHOUT_REP: {
        "en": "Some units have no rep (neither a rep_id attribute nor events "
        "carrying one); they form one group of their own.",
        "zh_CN": "部分实验单元没有销售代表（既无 rep_id 属性，也无带 rep_id 的事件），"
        "它们被归为单独一组。",
    },
}


def message(code: str, locale: str = "en") -> str:
    """The sentence for a warning code: Chinese for any ``zh`` locale, else English.

    Unknown codes come back unchanged, so a new code never breaks a page.
    """
    sentences = MESSAGES.get(code)
    if sentences is None:
        return code
    return sentences["zh_CN" if locale.lower().startswith("zh") else "en"]
