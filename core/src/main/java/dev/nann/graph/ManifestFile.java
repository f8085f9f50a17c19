package dev.nann.graph;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

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
      Map<?, ?> doc = (Map<?, ?>) new Json(new String(bytes, StandardCharsets.UTF_8)).document();
      if (((Number) doc.get("format")).intValue() != FORMAT) {
        throw new SnapshotException("manifest " + file + " has format " + doc.get("format") + "; this build reads "
            + FORMAT);
      }
      List<Shard> shards = new ArrayList<>();
      for (Object o : (List<?>) doc.get("shards")) {
        Map<?, ?> s = (Map<?, ?>) o;
        if (!(s.get("file") instanceof String) || !(s.get("sha256") instanceof String)) {
          throw new IllegalArgumentException("a shard entry lacks its file or sha256: " + s);
        }
        shards.add(new Shard(((Number) s.get("shard")).intValue(), ((Number) s.get("version")).longValue(),
            (String) s.get("file"), (String) s.get("sha256"), ((Number) s.get("items")).intValue()));
      }
      return new ManifestFile(((Number) doc.get("version")).longValue(), ((Number) doc.get("items")).longValue(),
          ((Number) doc.get("dim")).intValue(), ((Number) doc.get("m")).intValue(),
          ((Number) doc.get("efConstruction")).intValue(), ((Number) doc.get("createdAtMillis")).longValue(), shards,
          sha256(bytes));
    } catch (SnapshotException e) {
      throw e;
    } catch (RuntimeException e) {
      throw new SnapshotException("manifest " + file + " is malformed: " + e, e);
    }
  }

  /** Hex SHA-256 of {@code bytes}. */
  public static String sha256(byte[] bytes) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("the JVM has no SHA-256", e);
    }
  }

  /** Just enough JSON for the manifest: objects, arrays, strings without escapes beyond \" and \\, integers. */
  private static final class Json {
    private final String s;
    private int i;

    Json(String s) {
      this.s = s;
    }

    Object document() {
      Object v = value();
      skip();
      if (i != s.length()) {
        throw new IllegalArgumentException("trailing text at " + i);
      }
      return v;
    }

    private void skip() {
      while (i < s.length() && Character.isWhitespace(s.charAt(i))) {
        i++;
      }
    }

    private void expect(char c) {
      skip();
      if (i >= s.length() || s.charAt(i) != c) {
        throw new IllegalArgumentException("expected '" + c + "' at " + i);
      }
      i++;
    }

    private Object value() {
      skip();
      if (i >= s.length()) {
        throw new IllegalArgumentException("unexpected end");
      }
      char c = s.charAt(i);
      if (c == '{') {
        i++;
        Map<String, Object> m = new LinkedHashMap<>();
        skip();
        if (s.charAt(i) == '}') {
          i++;
          return m;
        }
        do {
          skip();
          String key = string();
          expect(':');
          m.put(key, value());
          skip();
        } while (s.charAt(i++) == ',');
        if (s.charAt(i - 1) != '}') {
          throw new IllegalArgumentException("expected '}' at " + (i - 1));
        }
        return m;
      }
      if (c == '[') {
        i++;
        List<Object> l = new ArrayList<>();
        skip();
        if (s.charAt(i) == ']') {
          i++;
          return l;
        }
        do {
          l.add(value());
          skip();
        } while (s.charAt(i++) == ',');
        if (s.charAt(i - 1) != ']') {
          throw new IllegalArgumentException("expected ']' at " + (i - 1));
        }
        return l;
      }
      if (c == '"') {
        return string();
      }
      int start = i;
      if (c == '-') {
        i++;
      }
      while (i < s.length() && Character.isDigit(s.charAt(i))) {
        i++;
      }
      if (start == i) {
        throw new IllegalArgumentException("unexpected '" + c + "' at " + i);
      }
      return Long.parseLong(s.substring(start, i));
    }

    private String string() {
      if (s.charAt(i) != '"') {
        throw new IllegalArgumentException("expected a string at " + i);
      }
      StringBuilder b = new StringBuilder();
      for (i++; s.charAt(i) != '"'; i++) {
        char c = s.charAt(i);
        if (c == '\\') {
          c = s.charAt(++i);
        }
        b.append(c);
      }
      i++;
      return b.toString();
    }
  }
}
