package dev.nann.client;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.regex.Pattern;

/**
 * User and item ids as nann serves them (64-bit signed integers) from the text an application
 * knows them by, exactly as the reference trainer maps the ids of an interaction log: text that is a
 * decimal integer within the 64-bit range ({@code [+-]?[0-9]+}, ASCII digits, nothing around it) is
 * that integer; any other text ({@code "u-196"}, {@code "B000123XYZ"}, a UUID, an integer beyond 64
 * bits) is the first 8 bytes of the SHA-256 of its UTF-8 bytes, big-endian. So a model trained on a
 * log of string ids is asked with {@code NannClient.request(NannIds.of("u-196"), 200)}, and an
 * answer's item ids are mapped back through the trainer's {@code id-names.tsv} or by hashing the
 * application's own catalogue.
 *
 * <pre>{@code
 * long user = NannIds.of("u-196");      // hashed
 * long item = NannIds.of("242");        // 242
 * }</pre>
 */
public final class NannIds {
  private static final Pattern DECIMAL = Pattern.compile("[+-]?[0-9]+");

  private NannIds() {}

  /**
   * The 64-bit id of {@code text} (class doc).
   *
   * @throws IllegalArgumentException when {@code text} is empty
   */
  public static long of(String text) {
    if (text.isEmpty()) {
      throw new IllegalArgumentException("an id cannot be empty");
    }
    if (DECIMAL.matcher(text).matches()) {
      try {
        return Long.parseLong(text);
      } catch (NumberFormatException beyond64Bits) {
        // hashed below, as the trainer does
      }
    }
    byte[] digest = sha256().digest(text.getBytes(StandardCharsets.UTF_8));
    long id = 0;
    for (int i = 0; i < Long.BYTES; i++) {
      id = (id << 8) | (digest[i] & 0xFF);
    }
    return id;
  }

  private static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every Java runtime has SHA-256", e);
    }
  }
}
