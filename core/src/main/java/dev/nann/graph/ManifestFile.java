package dev.nann.graph;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

/**
 * A sharded index version's manifest ({@code index-v<version>.manifest}) as read from a snapshot
 * store: its fields, its shard entries, and the SHA-256 of the very bytes they were parsed from.
 * Index-sync's {@code ShardManifest} writes the document (its javadoc shows the layout); the reading
 * lives here so that serving can check a manifest descriptor against its file without index-sync.
 *
 * @param shards the entries as listed (their order is not checked here)
 * @param sha256 hex SHA-256 of the file's bytes, what a manifest descriptor's {@code sha256} must be
 */
public record ManifestFile(long version, long items, int dim, int m, int efConstruction, long createdAtMillis,
                           List<Shard> shards, String sha256) {
  /** The manifest format this build reads and writes. */
  public static final int FORMAT = 1;

  /** One shard entry: its own build version, snapshot file (relative to the manifest), checksum and items. */
  public record Shard(int shard, long version, String file, String sha256, int items) {
  }

  public ManifestFile {
    shards = List.copyOf(shards);
  }

  /**
   * Reads and parses a manifest file.
   *
   * @throws SnapshotException if it cannot be read or is not a manifest of this format
   */
  public static ManifestFile read(Path file) {
    byte[] bytes;
    try {
      bytes = Files.readAllBytes(file);
    } catch (IOException e) {
      throw new SnapshotException("cannot read manifest " + file + ": " + e, e);
    }
    try {
      JsonNode doc = JSON.readTree(bytes);
      if (integer(doc, "format") != FORMAT) {
        throw new SnapshotException("manifest " + file + " has format " + doc.get("format") + "; this build reads "
            + FORMAT);
      }
      JsonNode entries = doc.get("shards");
      if (entries == null || !entries.isArray()) {
        throw new IllegalArgumentException("no shards array");
      }
      List<Shard> shards = new ArrayList<>();
      for (JsonNode s : entries) {
        shards.add(new Shard((int) integer(s, "shard", 0, MAX_SHARD), integer(s, "version", 0, MAX_VERSION),
            text(s, "file"), text(s, "sha256"), (int) integer(s, "items", 0, Integer.MAX_VALUE)));
      }
      return new ManifestFile(integer(doc, "version", 0, MAX_VERSION), integer(doc, "items", 0, Integer.MAX_VALUE),
          (int) integer(doc, "dim", 1, Integer.MAX_VALUE), (int) integer(doc, "m", 1, Integer.MAX_VALUE),
          (int) integer(doc, "efConstruction", 1, Integer.MAX_VALUE), integer(doc, "createdAtMillis"), shards,
          sha256(bytes));
    } catch (SnapshotException e) {
      throw e;
    } catch (IOException | RuntimeException e) {
      throw new SnapshotException("manifest " + file + " is malformed: " + e, e);
    }
  }

  /** Jackson, refusing text after the document as the manifest's own reader always has. */
  private static final ObjectMapper JSON = new ObjectMapper()
      .enable(com.fasterxml.jackson.databind.DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

  /** Versions and shard numbers are written into file names of 12 and 4 digits. */
  private static final long MAX_VERSION = 999_999_999_999L;
  private static final long MAX_SHARD = 9_999;

  /**
   * An integer field of {@code node} within [{@code min}, {@code max}]: a count or version out of its
   * range would otherwise be narrowed into another number, or fail later where it is used.
   */
  private static long integer(JsonNode node, String field, long min, long max) {
    long v = integer(node, field);
    if (v < min || v > max) {
      throw new IllegalArgumentException("'" + field + "' = " + v + " is outside [" + min + ", " + max + "]");
    }
    return v;
  }

  /** An integer field of {@code node}; refuses one missing or of another type. */
  private static long integer(JsonNode node, String field) {
    JsonNode v = node.get(field);
    if (v == null || !v.isIntegralNumber()) {
      throw new IllegalArgumentException("'" + field + "' is not an integer in " + node);
    }
    return v.longValue();
  }

  /** A string field of {@code node}; refuses one missing or of another type. */
  private static String text(JsonNode node, String field) {
    JsonNode v = node.get(field);
    if (v == null || !v.isTextual()) {
      throw new IllegalArgumentException("a shard entry lacks its " + field + ": " + node);
    }
    return v.textValue();
  }

  /** Hex SHA-256 of {@code bytes}. */
  public static String sha256(byte[] bytes) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("the JVM has no SHA-256", e);
    }
  }
}
