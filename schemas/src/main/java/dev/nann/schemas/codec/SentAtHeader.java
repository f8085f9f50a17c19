package dev.nann.schemas.codec;

import java.nio.ByteBuffer;
import java.time.Instant;

/**
 * The Kafka header in which a client stamps when it sent a request, in epoch microseconds (8 bytes,
 * big-endian). A record's own timestamp has millisecond resolution, so a latency measured from it
 * alone is overstated by half a millisecond on average; with this header the serving job times the
 * request's Kafka hop and its own end-to-end latency to the microsecond. Optional: without it (or
 * with one that does not fit the record, see {@link #micros}) the record timestamp is used.
 */
public final class SentAtHeader {
  /** The header's key. */
  public static final String NAME = "nann-sent-at-us";

  /** Most a stamp may differ from its record's timestamp before it is ignored (the two are taken together). */
  public static final long MAX_SKEW_MICROS = 1_000_000;

  private SentAtHeader() {
  }

  /** Now, in epoch microseconds. */
  public static long nowMicros() {
    Instant t = Instant.now();
    return t.getEpochSecond() * 1_000_000L + t.getNano() / 1000;
  }

  /** The header value for {@code micros}. */
  public static byte[] encode(long micros) {
    return ByteBuffer.allocate(Long.BYTES).putLong(micros).array();
  }

  /** The header value for now. */
  public static byte[] now() {
    return encode(nowMicros());
  }

  /**
   * The send time a header value states, in epoch microseconds, or -1 when it states none that can be
   * trusted: absent, not 8 bytes, or more than a second away from the record's own timestamp (a
   * client's clock or header gone wrong must not bend the latency figures).
   *
   * @param value the header's value (null when absent); not consumed
   * @param recordTimestampMillis the Kafka record's timestamp
   */
  public static long micros(ByteBuffer value, long recordTimestampMillis) {
    if (value == null || value.remaining() != Long.BYTES) {
      return -1;
    }
    long micros = value.getLong(value.position());
    if (recordTimestampMillis > Long.MAX_VALUE / 4000 || recordTimestampMillis < -(Long.MAX_VALUE / 4000)) {
      return -1;   // no clock says that: the product below would overflow into something that fits
    }
    long gap = micros - recordTimestampMillis * 1000;
    return gap >= -MAX_SKEW_MICROS && gap <= MAX_SKEW_MICROS ? micros : -1;
  }
}
