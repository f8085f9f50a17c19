package dev.nann.schemas.codec;

import java.nio.charset.StandardCharsets;

/**
 * What the serving job takes as a request id: not blank, and at most {@link #MAX_BYTES} bytes of
 * UTF-8 (an answer carries its id twice, as key and in the value). The job dead-letters a request
 * whose id breaks this, without an answer (it has no id to answer to), so clients check it first.
 */
public final class RequestIds {
  /** Longest request id, in UTF-8 bytes (a UUID takes 36). */
  public static final int MAX_BYTES = 1024;

  private RequestIds() {}

  /** Why {@code id} cannot be a request id, or null when it can. */
  public static String problem(String id) {
    if (id == null || id.isBlank()) {
      return "request has an empty requestId, so it cannot be answered";
    }
    byte[] utf8 = id.getBytes(StandardCharsets.UTF_8);
    if (!new String(utf8, StandardCharsets.UTF_8).equals(id)) {
      return "request id holds a lone UTF-16 surrogate (a string cut through a character): it would reach the job, "
          + "and come back, as another id";
    }
    return utf8.length > MAX_BYTES ? "request id of " + utf8.length + " bytes is longer than " + MAX_BYTES
        + " (a UUID takes 36)" : null;
  }
}
