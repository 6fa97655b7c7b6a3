import type { ExporterFactory } from '../../component/types.js';
import { type PrometheusExporterConfig, defaultPrometheusExporterConfig, prometheusExporterSchema } from './config.js';
import { PrometheusExporter } from './prometheus-exporter.js';

export const prometheusExporterFactory: ExporterFactory<PrometheusExporterConfig> = {
  kind: 'exporter',
  type: 'prometheus',
  stability: 'alpha',
  signals: ['metrics'],
  description: 'Serves metrics on an HTTP scrape endpoint in the Prometheus text format (OpenMetrics on request).',
  configSchema: prometheusExporterSchema(),
  createDefaultConfig: defaultPrometheusExporterConfig,
  create: (settings, config) => new PrometheusExporter(settings, config),
};
