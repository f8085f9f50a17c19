package dev.nann.operators;

import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.header.Header;

/**
 * The size limit on an input record, counted over its key, value and headers: a response carries
 * its request's headers back, so a small request with a megabyte header would otherwise make an
 * answer Kafka refuses to write, and the job would fail on it after every restart.
 */
public final class RecordLimit {
  /**
   * Headers a record may carry: each becomes a map entry held with the request through the job (and
   * copied back onto its answer), some hundred bytes of heap for a few bytes of record, so a record
   * of tens of thousands of tiny headers cost megabytes within the byte limit.
   */
  public static final int MAX_HEADERS = 64;

  private RecordLimit() {}

  /**
   * Refuses a record larger than {@code maxBytes}, naming the setting that sets the limit, or one
   * with more than {@link #MAX_HEADERS} headers.
   *
   * @throws IllegalArgumentException with the record's size and the limit
   */
  public static void check(ConsumerRecord<byte[], byte[]> record, int maxBytes, String setting) {
    long n = length(record.key()) + length(record.value());   // and the headers' names and values, as written back
    int headers = 0;
    for (Header h : record.headers()) {
      headers++;
      n += h.key().getBytes(java.nio.charset.StandardCharsets.UTF_8).length + length(h.value());
    }
    if (headers > MAX_HEADERS) {
      throw new IllegalArgumentException("record has " + headers + " headers; at most " + MAX_HEADERS
          + " (each is copied back onto the answer)");
    }
    if (n > maxBytes) {
      throw new IllegalArgumentException("record of " + n + " bytes (key, value and headers) exceeds the limit of "
          + maxBytes + " bytes (" + setting + ")");
    }
  }

  private static long length(byte[] b) {
    return b == null ? 0 : b.length;
  }
}
