package dev.nann.operators;

import dev.nann.schemas.codec.AvroCodec;
import dev.nann.schemas.codec.RequestIds;
import dev.nann.engine.RequestProtocol;
import dev.nann.schemas.RetrievalRequest;
import dev.nann.schemas.UserEvent;
import dev.nann.schemas.internal.ServingInput;
import java.nio.ByteBuffer;
import java.util.HashMap;
import java.util.Map;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.connector.kafka.source.reader.deserializer.KafkaRecordDeserializationSchema;
import org.apache.flink.formats.avro.typeutils.AvroTypeInfo;
import org.apache.flink.util.Collector;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.header.Header;

/**
 * Decodes records of the requests and user-events topics. Never throws: a record that is too large,
 * not single-object Avro, of an unknown writer schema, or missing what the job needs becomes a
 * {@link ServingInput} carrying a dead letter with topic, partition, offset and reason.
 */
public final class ServingInputDeserializer implements KafkaRecordDeserializationSchema<ServingInput> {
  private final String requestsTopic;
  private final String eventsTopic;
  private final int maxRecordBytes;
  private transient AvroCodec<RetrievalRequest> requests;
  private transient AvroCodec<UserEvent> events;

  /**
   * @param maxRecordBytes larger records (key, value and headers) are dead-lettered before decoding
   */
  public ServingInputDeserializer(String requestsTopic, String eventsTopic, int maxRecordBytes) {
    this.requestsTopic = requestsTopic;
    this.eventsTopic = eventsTopic;
    this.maxRecordBytes = maxRecordBytes;
  }

  @Override
  public void deserialize(ConsumerRecord<byte[], byte[]> record, Collector<ServingInput> out) {
    out.collect(decode(record));
  }

  /** The decoded input or its dead letter. */
  public ServingInput decode(ConsumerRecord<byte[], byte[]> record) {
    if (requests == null) {
      requests = AvroCodec.of(RetrievalRequest.class);
      events = AvroCodec.of(UserEvent.class);
    }
    ServingInput in = new ServingInput();
    in.setHeaders(new HashMap<>());
    in.setReceivedAtMillis(record.timestamp() > 0 ? record.timestamp() : System.currentTimeMillis());
    in.setDecodedAtMicros(RequestProtocol.nowMicros());
    byte[] value = record.value();
    try {
      RecordLimit.check(record, maxRecordBytes, "serving.max-record-bytes");
      in.setHeaders(headers(record));   // within the limit: they go back out on the answer
      if (record.topic().equals(requestsTopic)) {
        RetrievalRequest r = requests.decode(value);
        // the answer carries the id twice (key and value), re-encoded: a long or badly encoded one
        // could make an answer Kafka refuses
        String badId = RequestIds.problem(r.getRequestId());
        if (badId != null) {
          throw new IllegalArgumentException(badId);
        }
        in.setRequest(r);
      } else if (record.topic().equals(eventsTopic)) {
        in.setEvent(events.decode(value));
      } else {
        throw new IllegalArgumentException("record from unexpected topic " + record.topic());
      }
    } catch (Throwable e) {   // a record can make decoding fail in any way; only this record is lost
      in.setRequest(null);
      in.setEvent(null);
      in.setDeadLetter(DeadLetters.of(record, DeadLetters.describe(e)));
    }
    return in;
  }

  private static Map<String, ByteBuffer> headers(ConsumerRecord<byte[], byte[]> record) {
    Map<String, ByteBuffer> h = new HashMap<>();
    for (Header header : record.headers()) {
      h.put(header.key(), ByteBuffer.wrap(header.value() == null ? new byte[0] : header.value()));
    }
    return h;
  }

  @Override
  public TypeInformation<ServingInput> getProducedType() {
    return new AvroTypeInfo<>(ServingInput.class);
  }
}
