package dev.nann.local.console;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.nann.schemas.codec.AvroCodec;
import dev.nann.schemas.RetrievalRequest;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Iterator;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.UUID;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.tools.api.RecordReader;

/**
 * Kafka console producer reader: one JSON request per line, e.g. {@code {"userId": 196, "k": 10}}
 * (optional: requestId, mode, excludeItems, excludeSeen, attributeFilter, deadlineMillis), sent as a single-object
 * Avro {@code RetrievalRequest} keyed by user id.
 *
 * <pre>
 * echo '{"userId": 196, "k": 10}' | java -cp "flink-jobs/target/nann-cli.jar:flink-jobs/target/lib/*" \
 *   org.apache.kafka.tools.ConsoleProducer --bootstrap-server $(cat .nann-demo/bootstrap) --topic requests \
 *   --line-reader dev.nann.local.console.JsonRequestReader
 * </pre>
 */
public final class JsonRequestReader implements RecordReader {
  private static final ObjectMapper JSON = new ObjectMapper();
  private final AvroCodec<RetrievalRequest> codec = AvroCodec.of(RetrievalRequest.class);
  private String topic;

  @Override
  public void configure(Map<String, ?> configs) {
    Object t = configs.get("topic");
    topic = t == null ? "requests" : t.toString();
  }

  @Override
  public Iterator<ProducerRecord<byte[], byte[]>> readRecords(InputStream in) {
    BufferedReader lines = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
    return new Iterator<>() {
      // read when asked for, not ahead: typed by hand, a line is sent on Enter, not after the next one
      private String next;
      private boolean read;

      private String advance() {
        try {
          String l;
          while ((l = lines.readLine()) != null && l.isBlank()) {
            // skip blank lines
          }
          return l;
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
      }

      @Override
      public boolean hasNext() {
        if (!read) {
          next = advance();
          read = true;
        }
        return next != null;
      }

      @Override
      public ProducerRecord<byte[], byte[]> next() {
        if (!hasNext()) {
          throw new NoSuchElementException();
        }
        read = false;
        return toRecord(next);
      }
    };
  }

  ProducerRecord<byte[], byte[]> toRecord(String line) {
    try {
      JsonNode j = JSON.readTree(line);
      if (j == null || !j.has("userId")) {
        throw new IllegalArgumentException("a request needs at least {\"userId\": ...}: " + line);
      }
      RetrievalRequest r = RetrievalRequest.newBuilder()
          .setRequestId(j.has("requestId") ? j.get("requestId").asText() : UUID.randomUUID().toString())
          .setUserId(j.get("userId").asLong())
          .setK(j.has("k") ? j.get("k").asInt() : 200)
          .setMode(j.has("mode") ? j.get("mode").asText() : "nann")
          .setBudget(j.has("budget") ? j.get("budget").asInt() : 0)
          .setExcludeSeen(j.has("excludeSeen") && j.get("excludeSeen").asBoolean())
          .setDeadlineMillis(j.has("deadlineMillis") ? j.get("deadlineMillis").asLong() : 0L)
          .setCreatedAtMillis(System.currentTimeMillis())
          .build();
      if (j.has("excludeItems")) {
        java.util.List<Long> ex = new java.util.ArrayList<>();
        j.get("excludeItems").forEach(n -> ex.add(n.asLong()));
        r.setExcludeItems(ex);
      }
      if (j.has("attributeFilter")) {
        java.util.Map<String, java.util.List<String>> filter = new java.util.TreeMap<>();
        j.get("attributeFilter").fields().forEachRemaining(e -> {
          java.util.List<String> values = new java.util.ArrayList<>();
          e.getValue().forEach(v -> values.add(v.asText()));
          filter.put(e.getKey(), values);
        });
        r.setAttributeFilter(filter);
      }
      return new ProducerRecord<>(topic, Long.toString(r.getUserId()).getBytes(StandardCharsets.UTF_8), codec.encode(r));
    } catch (IOException e) {
      throw new IllegalArgumentException("not a JSON request: " + line + " (" + e.getMessage() + ")", e);
    }
  }
}
