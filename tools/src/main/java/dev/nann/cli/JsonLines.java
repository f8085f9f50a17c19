package dev.nann.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;

/** JSON lines the commands print and append to {@code --json} files, written with Jackson. */
public final class JsonLines {
  private static final ObjectMapper JSON = new ObjectMapper();

  private JsonLines() {}

  /** A new, empty JSON object (fields keep their insertion order). */
  public static ObjectNode object() {
    return JSON.createObjectNode();
  }

  /** {@code value} rounded to {@code digits} decimals, as a JSON number without float noise. */
  public static BigDecimal round(double value, int digits) {
    if (!Double.isFinite(value)) {
      return BigDecimal.ZERO;
    }
    return BigDecimal.valueOf(value).setScale(digits, RoundingMode.HALF_UP);
  }

  /** The object as one line. */
  public static String line(ObjectNode node) {
    try {
      return JSON.writeValueAsString(node);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Appends lines to {@code file} (created if missing); does nothing when {@code file} is null. */
  public static void append(Path file, List<String> lines) {
    if (file == null) {
      return;
    }
    try {
      Files.write(file, lines, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot append to " + file, e);
    }
  }
}
