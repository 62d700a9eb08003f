/**
 * The bytes of a TensorBoard event file, as TensorFlow writes them, without TensorFlow: TFRecord
 * framing (length, masked CRC-32C of the length, the record, masked CRC-32C of the record) around
 * `Event` protobufs (tensorflow/core/util/event.proto), encoded by protobufjs from the subset of
 * TensorFlow's and TensorBoard's .proto files declared below (field numbers as there).
 */
import protobuf from 'protobufjs/light.js';

// ---------------------------------------------------------------------------------------------
// CRC-32C (Castagnoli), as TFRecord uses it, masked. Ten lines, checked against the standard check
// value and TensorFlow's own files; a package would add a dependency for no less code.

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32C of `bytes` (crc32c("123456789") = 0xe3069283). */
export function crc32c(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const b of bytes) crc = CRC_TABLE[(crc ^ b) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** TFRecord's masked CRC: rotated right by 15 bits, plus a constant. */
export function maskedCrc(bytes: Uint8Array): number {
  const crc = crc32c(bytes);
  return (((crc >>> 15) | (crc << 17)) + 0xa282ead8) >>> 0;
}

/** One TFRecord: uint64 length, masked CRC of the length, the data, masked CRC of the data (little-endian). */
export function tfRecord(data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length + 4);
  out.writeBigUInt64LE(BigInt(data.length), 0);
  out.writeUInt32LE(maskedCrc(out.subarray(0, 8)), 8);
  out.set(data, 12);
  out.writeUInt32LE(maskedCrc(data), 12 + data.length);
  return out;
}

// ---------------------------------------------------------------------------------------------
// The messages: tensorflow/core/util/event.proto, framework/summary.proto, tensor.proto,
// tensor_shape.proto; tensorboard/plugins/hparams/plugin_data.proto and api.proto;
// google/protobuf/struct.proto (Value). Only the fields seq-tag writes.

const field = (id: number, type: string, rule?: 'repeated') => ({ id, type, ...(rule ? { rule } : {}) });

const root = protobuf.Root.fromJSON({
  nested: {
    Event: {
      fields: { wallTime: field(1, 'double'), step: field(2, 'int64'), fileVersion: field(3, 'string'), summary: field(5, 'Summary') },
      oneofs: { what: { oneof: ['fileVersion', 'summary'] } },
    },
    Summary: {
      fields: { value: field(1, 'Value', 'repeated') },
      nested: {
        Value: {
          fields: { tag: field(1, 'string'), simpleValue: field(2, 'float'), tensor: field(8, 'TensorProto'), metadata: field(9, 'SummaryMetadata') },
          oneofs: { value: { oneof: ['simpleValue', 'tensor'] } },
        },
      },
    },
    SummaryMetadata: {
      fields: { pluginData: field(1, 'PluginData') },
      nested: { PluginData: { fields: { pluginName: field(1, 'string'), content: field(2, 'bytes') } } },
    },
    // dtype is TensorFlow's DataType enum, written as its number (DT_FLOAT 1, DT_STRING 7).
    TensorProto: { fields: { dtype: field(1, 'int32'), tensorShape: field(2, 'TensorShapeProto'), stringVal: field(8, 'bytes', 'repeated') } },
    TensorShapeProto: { fields: { dim: field(2, 'Dim', 'repeated') }, nested: { Dim: { fields: { size: field(1, 'int64') } } } },
    HParamsPluginData: {
      fields: {
        version: field(1, 'int32'),
        experiment: field(2, 'Experiment'),
        sessionStartInfo: field(3, 'SessionStartInfo'),
        sessionEndInfo: field(4, 'SessionEndInfo'),
      },
    },
    // api.proto. DataType: STRING 1, BOOL 2, FLOAT64 3. DatasetType: TRAINING 1, VALIDATION 2.
    Experiment: {
      fields: { timeCreatedSecs: field(3, 'double'), hparamInfos: field(4, 'HParamInfo', 'repeated'), metricInfos: field(5, 'MetricInfo', 'repeated') },
    },
    HParamInfo: { fields: { name: field(1, 'string'), type: field(4, 'int32') } },
    MetricInfo: { fields: { name: field(1, 'MetricName'), datasetType: field(5, 'int32') } },
    MetricName: { fields: { group: field(1, 'string'), tag: field(2, 'string') } },
    SessionStartInfo: {
      fields: {
        hparams: { id: 1, keyType: 'string', type: 'ProtobufValue' } as protobuf.IMapField,
        groupName: field(4, 'string'),
        startTimeSecs: field(5, 'double'),
      },
    },
    // Status: STATUS_UNKNOWN 0, STATUS_SUCCESS 1, STATUS_FAILURE 2, STATUS_RUNNING 3.
    SessionEndInfo: { fields: { status: field(1, 'int32'), endTimeSecs: field(2, 'double') } },
    ProtobufValue: {
      fields: { numberValue: field(2, 'double'), stringValue: field(3, 'string'), boolValue: field(4, 'bool') },
      oneofs: { kind: { oneof: ['numberValue', 'stringValue', 'boolValue'] } },
    },
  },
});
const Event = root.lookupType('Event');
const HParamsPluginData = root.lookupType('HParamsPluginData');

// ---------------------------------------------------------------------------------------------

/** A hyperparameter's value as TensorBoard's HParams plugin shows it. */
export type HParamValue = number | string | boolean;

/** How a session (one run) ended, in the HParams plugin's words. */
export const SESSION_STATUS = { unknown: 0, success: 1, failure: 2 } as const;

/** What one event carries: the file's version line, scalars, a text, or an HParams session's start or end. */
export type EventContent =
  | { fileVersion: string }
  | { scalars: Record<string, number> }
  | { text: { tag: string; value: string } }
  | { sessionStart: { hparams: Record<string, HParamValue>; groupName: string; startTime: number } }
  | { experiment: { hparams: Record<string, HParamValue>; metrics: { group: string; tag: string }[]; time: number } }
  | { sessionEnd: { status: (typeof SESSION_STATUS)[keyof typeof SESSION_STATUS]; endTime: number } };

/** A Summary.Value carrying a plugin's data: the metadata names the plugin, the tensor holds the payload. */
const pluginValue = (tag: string, pluginName: string, content: Uint8Array, tensor: object) => ({
  tag,
  metadata: { pluginData: { pluginName, content } },
  tensor,
});

/** The empty float tensor TensorBoard's hparams summaries carry (metadata.NULL_TENSOR). */
const NULL_TENSOR = { dtype: 1, tensorShape: { dim: [{ size: 0 }] } };

/** The HParams plugin's type of a value. */
const dataType = (v: HParamValue) => (typeof v === 'string' ? 1 : typeof v === 'boolean' ? 2 : 3);

/** A metric's dataset, as the HParams dashboard labels it: train/… training, validation/… validation. */
const datasetType = (name: { group: string; tag: string }) => {
  const where = name.group || name.tag.split('/')[0];
  return where === 'train' ? 1 : where === 'validation' ? 2 : 0;
};

/**
 * tensorboard.plugins.hparams: tags `_hparams_/experiment`, `_hparams_/session_start_info` and
 * `_hparams_/session_end_info`, plugin "hparams".
 */
function hparamsValue(content: Extract<EventContent, { sessionStart: unknown } | { sessionEnd: unknown } | { experiment: unknown }>) {
  if ('experiment' in content) {
    const { hparams, metrics, time } = content.experiment;
    const experiment = {
      timeCreatedSecs: time,
      hparamInfos: Object.entries(hparams).map(([name, v]) => ({ name, type: dataType(v) })),
      metricInfos: metrics.map((name) => ({ name, datasetType: datasetType(name) })),
    };
    return pluginValue(
      '_hparams_/experiment',
      'hparams',
      HParamsPluginData.encode(HParamsPluginData.fromObject({ version: 0, experiment })).finish(),
      NULL_TENSOR,
    );
  }
  const data =
    'sessionStart' in content
      ? {
          sessionStartInfo: {
            hparams: Object.fromEntries(Object.entries(content.sessionStart.hparams).map(([name, v]) => [name, protobufValue(v)])),
            groupName: content.sessionStart.groupName,
            startTimeSecs: content.sessionStart.startTime,
          },
        }
      : { sessionEndInfo: { status: content.sessionEnd.status, endTimeSecs: content.sessionEnd.endTime } };
  const tag = 'sessionStart' in content ? '_hparams_/session_start_info' : '_hparams_/session_end_info';
  return pluginValue(tag, 'hparams', HParamsPluginData.encode(HParamsPluginData.fromObject({ version: 0, ...data })).finish(), NULL_TENSOR);
}

function protobufValue(v: HParamValue) {
  if (typeof v === 'number') return { numberValue: v };
  return typeof v === 'boolean' ? { boolValue: v } : { stringValue: v };
}

/** What the event's summary holds: scalar `simple_value`s, a text (as tf.summary.text writes it), or HParams data. */
function summaryValues(content: Exclude<EventContent, { fileVersion: string }>) {
  if ('scalars' in content) return Object.entries(content.scalars).map(([tag, simpleValue]) => ({ tag, simpleValue }));
  if ('text' in content) {
    const tensor = { dtype: 7, tensorShape: {}, stringVal: [Buffer.from(content.text.value, 'utf8')] };
    return [pluginValue(content.text.tag, 'text', new Uint8Array(), tensor)];
  }
  return [hparamsValue(content)];
}

/** One Event, encoded: `wallTime` in seconds, `step` (seq-tag's epoch, or batch for batch_loss). */
export function eventBytes(wallTime: number, step: number, content: EventContent): Uint8Array {
  const body = 'fileVersion' in content ? { fileVersion: content.fileVersion } : { summary: { value: summaryValues(content) } };
  return Event.encode(Event.fromObject({ wallTime, step, ...body })).finish();
}
