// Every error Sonde reports carries one of these stable codes. docs/troubleshooting.md has one
// entry per code; test/docs.test.ts keeps the two in step. Add a code here, then its doc entry.

export interface ErrorCodeInfo {
  /** What went wrong, in one line. */
  summary: string;
  /** What the user can do about it. */
  fix: string;
}

export const ERROR_CODES = {
  SONDE_CONFIG_NOT_FOUND: {
    summary: 'The configuration file could not be read.',
    fix: 'Check the path given to --config and that the file is readable by the Sonde user.',
  },
  SONDE_CONFIG_SYNTAX: {
    summary: 'The configuration file is not valid YAML.',
    fix: 'Fix the YAML at the reported file:line:col; `sonde validate --config FILE` lists every problem.',
  },
  SONDE_CONFIG_INVALID: {
    summary: 'The configuration is valid YAML but breaks the schema or the pipeline rules.',
    fix: 'Each problem is printed with its key path and file:line:col; fix them all and run `sonde validate` again.',
  },
  SONDE_COMPONENT_START_FAILED: {
    summary: 'A component could not start (port in use, missing privilege, backend unreachable at start).',
    fix: 'Read the nested error and its hint; Sonde stops the components it had started and exits 1.',
  },
  SONDE_ADMIN_LISTEN_FAILED: {
    summary: 'The admin endpoint (service.telemetry.metrics.address) could not listen.',
    fix: 'Pick a free address:port or stop the process holding it.',
  },
  SONDE_EXPORT_RETRYABLE: {
    summary: 'An export failed in a way that a retry can fix (backend down, 429, 5xx, UNAVAILABLE).',
    fix: 'Nothing, if retry_on_failure is enabled; otherwise check the backend. Failed items are counted in sonde_exporter_send_failed_items_total.',
  },
  SONDE_EXPORT_PERMANENT: {
    summary: 'The backend rejected the data for good (400, INVALID_ARGUMENT, bad labels).',
    fix: 'The data is dropped and counted; check the backend log for which field it refused.',
  },
  SONDE_QUEUE_FULL: {
    summary: 'An exporter queue was full and its when_full policy is drop_newest.',
    fix: 'Raise sending_queue.queue_size or num_consumers, or make the backend faster; drops are in sonde_exporter_enqueue_failed_items_total.',
  },
  SONDE_FILE_OPEN_FAILED: {
    summary: 'The file exporter could not create or open its output file.',
    fix: 'Check that the directory of `path` is writable by the Sonde user (systemd: ReadWritePaths=).',
  },
  SONDE_CONFIG_RELOAD_REJECTED: {
    summary: 'SIGHUP asked for a reload but the new config has problems; the running pipelines were kept.',
    fix: 'The log lists every problem with file:line:col; fix them and send SIGHUP again.',
  },
  SONDE_SHUTDOWN_TIMEOUT: {
    summary: 'Pipelines did not flush within the shutdown deadline.',
    fix: 'Data still queued in memory is lost and counted; enable sending_queue.storage_dir to keep it across restarts.',
  },
  SONDE_PROMETHEUS_REMOTE_WRITE_UNAVAILABLE: {
    summary: 'A Prometheus remote-write request failed in a way a retry can fix (connection refused, timeout, HTTP 429 or 5xx).',
    fix: 'Check that the remote-write endpoint is up and reachable; Sonde retries with backoff (honouring Retry-After) per retry_on_failure.',
  },
  SONDE_PROMETHEUS_REMOTE_WRITE_REJECTED: {
    summary: 'The remote-write receiver refused a request for good (HTTP 4xx other than 429: bad label, out-of-order or duplicate sample, auth).',
    fix: 'The request is dropped, logged once and counted in sonde_exporter_send_failed_items_total; read the quoted response body and the receiver log.',
  },
  SONDE_PROMETHEUS_POINT_DROPPED: {
    summary: 'A data point could not be expressed in Prometheus form (histogram bucket counts not matching its bounds, or a name already used by another metric type).',
    fix: 'Fix the producer of the metric or rename one of the clashing metrics; dropped points are counted in sonde_exporter_send_failed_items_total.',
  },
  SONDE_PROMETHEUS_LISTEN_FAILED: {
    summary: 'The prometheus exporter could not listen on its scrape endpoint.',
    fix: 'Pick a free host:port in the exporter endpoint option or stop the process holding it.',
  },
} as const satisfies Record<string, ErrorCodeInfo>;

export type ErrorCode = keyof typeof ERROR_CODES | `SONDE_${string}`;
