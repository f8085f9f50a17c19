package dev.nann.schemas.codec;

import java.security.SecureRandom;
import java.util.Arrays;

/**
 * The Kafka header in which a client tags each attempt at a request, so that an answer can be told
 * from the answer to an earlier attempt that reused the request id (a retry after a timeout, when the
 * first attempt's late answer is still on its way). The job copies it to the answer like every request
 * header. Optional: an answer without it is matched by request id alone.
 */
public final class AttemptHeader {
  /** The header's key. */
  public static final String NAME = "nann-attempt";

  private static final SecureRandom RANDOM = new SecureRandom();

  private AttemptHeader() {
  }

  /** A fresh tag: 8 random bytes. */
  public static byte[] next() {
    byte[] tag = new byte[8];
    RANDOM.nextBytes(tag);
    return tag;
  }

  /** Whether an answer carrying {@code answered} (null: no such header) may answer the attempt tagged {@code sent}. */
  public static boolean answers(byte[] answered, byte[] sent) {
    return answered == null || Arrays.equals(answered, sent);
  }
}
