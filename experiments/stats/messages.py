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
}


def message(code: str, locale: str = "en") -> str:
    """The sentence for a warning code: Chinese for any ``zh`` locale, else English.

    Unknown codes come back unchanged, so a new code never breaks a page.
    """
    sentences = MESSAGES.get(code)
    if sentences is None:
        return code
    return sentences["zh_CN" if locale.lower().startswith("zh") else "en"]
