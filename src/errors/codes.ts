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
  SONDE_CONFIG_RELOAD_FAILED: {
    summary: 'SIGHUP brought a valid config that failed to start (port in use, file not writable); the previous config was started again.',
    fix: 'Read the nested error (with its own code) in the log, fix the cause, and send SIGHUP again.',
  },
  SONDE_CONFIG_RESTORE_FAILED: {
    summary: 'After a reload failed, the previous config could not be started again either: no pipeline runs, only the admin endpoint.',
    fix: 'Fix what the logged errors name (a port taken meanwhile, an output path); the next SIGHUP loads the file again. /readyz answers 503 meanwhile.',
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
  SONDE_OTLP_MALFORMED: {
    summary: 'An OTLP request was not a valid export request (bad protobuf, truncated body, invalid JSON, wrong id length, bad gzip).',
    fix: 'The otlp receiver answered 400 / INVALID_ARGUMENT and counted it in sonde_receiver_malformed_requests_total; check the sender\'s OTLP exporter, its encoding and Content-Type.',
  },
  SONDE_OTLP_TOO_LARGE: {
    summary: 'An OTLP request body (compressed or decompressed) was larger than the receiver allows.',
    fix: 'Send smaller batches, or raise protocols.http.max_request_body_size / protocols.grpc.max_recv_msg_size in the otlp receiver.',
  },
  SONDE_OTLP_UNSUPPORTED_MEDIA_TYPE: {
    summary: 'An OTLP/HTTP request had a Content-Type or Content-Encoding the receiver does not accept (HTTP 415).',
    fix: 'Use Content-Type application/x-protobuf or application/json, and Content-Encoding gzip, deflate or none.',
  },
  SONDE_OTLP_UNSUPPORTED_METRIC: {
    summary: 'OTLP metrics of a type Sonde does not model (exponential histogram, summary) were dropped.',
    fix: 'The sender was told through OTLP partial success and the points were counted in sonde_receiver_refused_items_total; export those metrics as explicit-bucket histograms instead.',
  },
  SONDE_OTLP_TLS_CONFIG: {
    summary: 'An OTLP exporter could not read its TLS files (tls.ca_file, tls.cert_file, tls.key_file), or only one of cert_file / key_file was given.',
    fix: 'Check the paths (relative paths are resolved from the config file\'s directory) and give cert_file and key_file together.',
  },
  SONDE_EXPORT_PARTIAL: {
    summary: 'The backend accepted an export but rejected some of its items (OTLP partial success).',
    fix: 'Rejected items are not retried and are counted in sonde_exporter_send_failed_items_total; the backend\'s message is logged.',
  },
  SONDE_EXPORTER_STOPPED: {
    summary: 'Data reached an exporter that was already shut down (during shutdown or a reload).',
    fix: 'Nothing to do at shutdown; the error is retryable, so senders such as OTLP clients retry against the new instance.',
  },
  SONDE_QUEUE_STORAGE_FAILED: {
    summary: 'The persistent queue (sending_queue.storage_dir) could not be opened, read or written.',
    fix: 'Check that storage_dir is writable, has free space, and is not used by another Sonde process; the exporter refuses data (retryable) while writes fail.',
  },
  SONDE_QUEUE_ENTRY_TOO_LARGE: {
    summary: 'One batch is larger than the persistent queue may hold on disk (sending_queue.max_size), so it can never be queued.',
    fix: 'Raise sending_queue.max_size or make batches smaller (batch processor send_batch_max_size); the batch is refused and counted in sonde_exporter_enqueue_failed_items_total.',
  },
  SONDE_QUEUE_CORRUPT_ENTRY: {
    summary: 'A record in the persistent queue could not be read back (damaged file, or written by an incompatible Sonde); it was deleted.',
    fix: 'Its items are counted in sonde_exporter_send_failed_items_total; if it repeats, stop Sonde and remove the exporter directory under storage_dir.',
  },
  SONDE_MEMORY_LIMIT_EXCEEDED: {
    summary: 'Sonde is above a memory_limiter soft limit (limit minus spike): the processor refuses data and receivers refuse before pushing (OTLP: 503 / UNAVAILABLE); retryable.',
    fix: 'Senders retry later; receivers answer 503 / UNAVAILABLE. Give Sonde more memory (limit_mib), lower the load, or make exporters faster; see sonde_processor_refused_items_total.',
  },
  SONDE_MEMORY_LIMITER_CONFIG: {
    summary: 'The memory_limiter settings are inconsistent (no limit set, spike not below the limit, or both MiB and percentage limits set).',
    fix: 'Set limit_mib (with spike_limit_mib below it) or limit_percentage (with spike_limit_percentage below it), not both.',
  },
  SONDE_K8S_AUTH: {
    summary: 'The k8sattributes processor could not load Kubernetes credentials for its auth_type.',
    fix: 'serviceAccount: run in a pod with a mounted service account token; kubeConfig: set KUBECONFIG or create ~/.kube/config with a current context.',
  },
  SONDE_K8S_NODE_UNKNOWN: {
    summary: 'The k8sattributes processor does not know which node it runs on, so it watches every pod in the cluster.',
    fix: 'Set the variable named by filter.node_from_env_var (default K8S_NODE_NAME) from the downward API (fieldRef spec.nodeName), or set filter.node.',
  },
  SONDE_K8S_API_UNAVAILABLE: {
    summary: 'A Kubernetes list or watch failed (API server down, network, RBAC); Sonde retries with backoff and keeps the last known metadata.',
    fix: 'Check sonde_k8s_api_up and sonde_k8s_watch_errors_total, the API server and the RBAC rules (get/list/watch on pods, replicasets, jobs, services, namespaces).',
  },
  SONDE_EBPF_CGROUP_NOT_FOUND: {
    summary: 'A cgroup listed in the ebpf receiver\'s http.cgroups does not exist on the cgroup v2 hierarchy, so the HTTP capture cannot filter on it.',
    fix: 'Use the path from the "0::" line of /proc/PID/cgroup of a process in that group (or an absolute path under the cgroup2 mount), and check that a cgroup v2 filesystem is mounted.',
  },
  SONDE_BPF_NO_BTF: {
    summary: 'The kernel exposes no BTF (/sys/kernel/btf/vmlinux), so the eBPF receiver cannot load its CO-RE programs.',
    fix: 'Run a kernel built with CONFIG_DEBUG_INFO_BTF=y (most distributions since 2020); `sonde doctor` shows what is missing.',
  },
  SONDE_BPF_NO_PRIVILEGE: {
    summary: 'The kernel refused to load or attach a BPF program: Sonde lacks the capabilities.',
    fix: 'Run as root or grant CAP_BPF and CAP_PERFMON (CAP_SYS_ADMIN before Linux 5.8), plus CAP_DAC_READ_SEARCH when not uid 0; `sonde doctor` lists the effective capabilities.',
  },
  SONDE_BPF_TRACEFS_NOT_MOUNTED: {
    summary: 'tracefs is not mounted at /sys/kernel/tracing and Sonde may not mount it; tracepoints cannot be attached.',
    fix: 'Run `mount -t tracefs tracefs /sys/kernel/tracing` as root (Sonde does it itself when it runs as root), or mount the host path into the container.',
  },
  SONDE_BPF_LOAD_FAILED: {
    summary: 'A BPF object could not be opened or the kernel verifier refused a program.',
    fix: 'Check that bpf/out/*.bpf.o exist (`npm run build:bpf`); the libbpf lines in the message and in the debug log say what the verifier refused; `sonde doctor` shows what the kernel supports.',
  },
  SONDE_BPF_ATTACH_FAILED: {
    summary: 'A loaded BPF program could not be attached to its hook (tracepoint, kprobe, fentry, uprobe).',
    fix: 'The kernel may lack the hook; `sonde doctor` shows which hooks work. Sonde falls back along its hook ladder where it can.',
  },
  SONDE_BPF_NOT_SUPPORTED: {
    summary: 'This kernel lacks a BPF feature Sonde needs (program or map type, helper).',
    fix: 'Use a newer kernel (5.8+ for ring buffers); `sonde doctor` lists the features that will work here.',
  },
  SONDE_BPF_LIBBPF_MISSING: {
    summary: 'libbpf.so.1 could not be loaded.',
    fix: 'Install libbpf 1.1 or newer (Debian/Ubuntu: `apt-get install libbpf1`).',
  },
  SONDE_BPF_MAP_FAILED: {
    summary: 'A BPF map operation (resize, update, lookup, mmap of a ring buffer) failed.',
    fix: 'Check the message for the errno; a ring_buffer_size must be a power of two and at least one page.',
  },
} as const satisfies Record<string, ErrorCodeInfo>;

export type ErrorCode = keyof typeof ERROR_CODES | `SONDE_${string}`;
