// An independent OpenTelemetry producer for runlog: the JavaScript SDK from npm with the
// OTLP/HTTP exporters, which send JSON bodies (hex trace/span ids, string timestamps)
// streamed with chunked transfer encoding.
//
// Configured by the standard environment only, the same that `run.otel_environment()` gives:
//   OTEL_EXPORTER_OTLP_ENDPOINT  the collector, e.g. http://127.0.0.1:4318
//   OTEL_RESOURCE_ATTRIBUTES     runlog.run.id=...,runlog.experiment=...
//
// It emits, in this order: runlog.metric events (numeric and string values, explicit steps),
// a runlog.tag event, plain log lines (several severities), and one span with a child; then
// prints {"trace_id": "<32 hex>"} of that span (without a run id, the trace becomes a run).
// tests/test_otel_producers.py asserts on exactly these values; change both together.
import { ExportResultCode } from '@opentelemetry/core';
import { SeverityNumber } from '@opentelemetry/api-logs';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { defaultResource, detectResources, envDetector } from '@opentelemetry/resources';
import { BatchLogRecordProcessor, LoggerProvider } from '@opentelemetry/sdk-logs';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { ROOT_CONTEXT, SpanStatusCode, trace } from '@opentelemetry/api';

if (!process.env.OTEL_EXPORTER_OTLP_ENDPOINT || !process.env.OTEL_RESOURCE_ATTRIBUTES) {
  console.error('set OTEL_EXPORTER_OTLP_ENDPOINT and OTEL_RESOURCE_ATTRIBUTES (see run.otel_environment())');
  process.exit(2);
}

// runlog.run.id and runlog.experiment come from OTEL_RESOURCE_ATTRIBUTES.
const resource = defaultResource().merge(detectResources({ detectors: [envDetector] }));

// (sdk-logs takes an options object, sdk-trace-base the exporter first.)
// Batch processors with a long delay: shutdown() exports everything in one request per
// signal, so the log records reach the collector in emission order (concurrent
// per-record exports could arrive in any order) and the process exits only after the
// collector answered.
// A failed export makes the process exit 1 (the SDK itself only logs it).
const failures = [];
function checked(exporter, signal) {
  const exportOnce = exporter.export.bind(exporter);
  exporter.export = (items, done) =>
    exportOnce(items, (result) => {
      if (result.code !== ExportResultCode.SUCCESS) failures.push(`${signal}: ${result.error}`);
      done(result);
    });
  return exporter;
}

const batch = { scheduledDelayMillis: 60_000, maxExportBatchSize: 512 };
const loggerProvider = new LoggerProvider({
  resource,
  processors: [new BatchLogRecordProcessor({ exporter: checked(new OTLPLogExporter(), 'logs'), ...batch })],
});
const tracerProvider = new BasicTracerProvider({
  resource,
  spanProcessors: [new BatchSpanProcessor(checked(new OTLPTraceExporter(), 'traces'), batch)],
});

const logger = loggerProvider.getLogger('otel-js-producer', '1.0.0');

function metric(name, value, step) {
  const attributes = { 'runlog.metric.name': name, 'runlog.metric.value': value };
  if (step !== undefined) attributes['runlog.metric.step'] = step;
  // eventName is LogRecord field 12; @opentelemetry/sdk-logs >= 0.200 sets it.
  logger.emit({ eventName: 'runlog.metric', attributes });
}

function line(severityNumber, severityText, body, attributes = {}) {
  logger.emit({ severityNumber, severityText, body, attributes });
}

const tracer = tracerProvider.getTracer('otel-js-producer', '1.0.0');
// No context manager is registered, so the child gets its parent's context explicitly.
const root = tracer.startSpan('js-train', { attributes: { 'js.epochs': 3 } });
{
  metric('js_loss', 0.5, 0);
  metric('js_loss', 0.25, 1);
  metric('js_loss', 0.125, 2);
  metric('js_epochs', 3); // an integer, step left to the collector (last + 1)
  metric('js_phase', 'warmup', 0);
  metric('js_phase', 'train', 1);
  logger.emit({
    eventName: 'runlog.tag',
    attributes: { 'runlog.key': 'producer', 'runlog.value': 'otel-js' },
  });

  line(SeverityNumber.INFO, 'INFO', 'js: training started');
  line(SeverityNumber.WARN, 'WARN', 'js: learning rate is high', { 'js.lr': 0.5 });
  line(SeverityNumber.ERROR, 'ERROR', 'js: batch 7 skipped');

  const parent = trace.setSpan(ROOT_CONTEXT, root);
  const child = tracer.startSpan('js-epoch', { attributes: { 'js.epoch': 0 } }, parent);
  child.end();
  root.setStatus({ code: SpanStatusCode.OK });
  root.end();
}
// The trace id (hex), for a caller that looks up the run a trace without run id became.
console.log(JSON.stringify({ trace_id: root.spanContext().traceId }));

await tracerProvider.shutdown();
await loggerProvider.shutdown();
if (failures.length) {
  console.error(`export failed:\n${failures.join('\n')}`);
  process.exitCode = 1;
}
