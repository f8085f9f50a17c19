package dev.nann.local.console;

import dev.nann.schemas.CandidateFeed;
import dev.nann.schemas.DeadLetter;
import dev.nann.schemas.IndexDescriptor;
import dev.nann.schemas.ModelDescriptor;
import dev.nann.schemas.RetrievalRequest;
import dev.nann.schemas.RetrievalResponse;
import dev.nann.schemas.UserEvent;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.apache.avro.message.BinaryMessageDecoder;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.MessageFormatter;

/**
 * Kafka console consumer formatter for nann's topics: decodes any nann single-object Avro value
 * (the fingerprint says which schema) and prints {@code key <tab> JSON}.
 *
 * <pre>
 * java -cp "flink-jobs/target/nann-cli.jar:flink-jobs/target/lib/*" org.apache.kafka.tools.consumer.ConsoleConsumer \
 *   --bootstrap-server $(cat .nann-demo/bootstrap) --topic responses --isolation-level read_committed \
 *   --formatter dev.nann.local.console.AvroJsonFormatter
 * </pre>
 */
public final class AvroJsonFormatter implements MessageFormatter {
  private final List<BinaryMessageDecoder<? extends SpecificRecord>> decoders = List.of(
      RetrievalResponse.getDecoder(), RetrievalRequest.getDecoder(), UserEvent.getDecoder(), CandidateFeed.getDecoder(),
      DeadLetter.getDecoder(), IndexDescriptor.getDecoder(), ModelDescriptor.getDecoder());

  @Override
  public void writeTo(ConsumerRecord<byte[], byte[]> record, PrintStream out) {
    String key = record.key() == null ? "" : new String(record.key(), StandardCharsets.UTF_8);
    out.println(key + "\t" + decode(record.value()));
  }

  private String decode(byte[] value) {
    if (value == null) {
      return "null";
    }
    for (BinaryMessageDecoder<? extends SpecificRecord> d : decoders) {
      try {
        return d.decode(value).toString();
      } catch (Exception notThisSchema) {
        // try the next schema
      }
    }
    return "(" + value.length + " bytes, not a nann record)";
  }
}
