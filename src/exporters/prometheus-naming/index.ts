export { prometheusMetricName, prometheusLabelName, unitSuffix, type PrometheusKind } from './metric-name.js';
export { type Label, labelValue, addAttributeLabels, sortedLabels, labelsKey } from './labels.js';
export { type ResourceCopy, jobAndInstance, targetInfoAttributes, copiedResourceAttributes } from './resource.js';
export { DeltaToCumulative, attributesKey, type DeltaToCumulativeOptions } from './delta-to-cumulative.js';
export { translateMetrics, TARGET_INFO, type PromFamily, type PromPoint, type HistogramValue, type TranslateOptions, type TranslateResult } from './translate.js';
export { formatNumber } from './format.js';
