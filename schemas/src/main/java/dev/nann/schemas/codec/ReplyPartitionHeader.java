package dev.nann.schemas.codec;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * The Kafka header in which a client names the partition of the responses topic it reads, so that the
 * serving job writes the request's answer there. Without it an answer lands on the partition of its
 * key (the request id), and every client has to read every partition, the other clients' answers
 * included; with it, a fleet of N clients spread over the topic's partitions reads about 1/N of the
 * answers each. The value is the partition number in ASCII digits ({@code "3"}), so that any Kafka
 * client can set it. Optional: a value that names no partition of the topic is ignored (the answer
 * takes the key's partition).
 */
public final class ReplyPartitionHeader {
  /** The header's key. */
  public static final String NAME = "nann-reply-partition";

  /** Most digits a value may have (partitions are numbered below Kafka's int limit). */
  private static final int MAX_DIGITS = 9;

  private ReplyPartitionHeader() {
  }

  /** The header value naming {@code partition} (>= 0). */
  public static byte[] encode(int partition) {
    if (partition < 0) {
      throw new IllegalArgumentException("a partition number is >= 0, got " + partition);
    }
    return Integer.toString(partition).getBytes(StandardCharsets.US_ASCII);
  }

  /**
   * The partition a header value names, or -1 when it names none: absent, empty, longer than nine
   * characters, or anything but ASCII digits.
   *
   * @param value the header's value (null when absent); not consumed
   */
  public static int partition(ByteBuffer value) {
    if (value == null || !value.hasRemaining() || value.remaining() > MAX_DIGITS) {
      return -1;
    }
    int p = 0;
    for (int i = value.position(); i < value.limit(); i++) {
      byte b = value.get(i);
      if (b < '0' || b > '9') {
        return -1;
      }
      p = p * 10 + (b - '0');
    }
    return p;
  }
}
