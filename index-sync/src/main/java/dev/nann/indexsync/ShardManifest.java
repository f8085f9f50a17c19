package dev.nann.indexsync;

import dev.nann.graph.SnapshotException;
import dev.nann.graph.SnapshotFormat;
import dev.nann.graph.SnapshotStore;
import dev.nann.schemas.IndexDescriptor;
import dev.nann.schemas.ShardSnapshot;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The manifest of one version of a sharded index: which snapshot file (with its SHA-256 and live
 * items) each of the S shards serves in that version. Written next to the shard files as
 * {@code index-v<version>.manifest}, a small UTF-8 JSON document:
 *
 * <pre>
 * {
 *   "format": 1,
 *   "version": 7,
 *   "items": 1000000,
 *   "dim": 64,
 *   "m": 32,
 *   "efConstruction": 40,
 *   "createdAtMillis": 1767225600000,
 *   "shards": [
 *     {"shard": 0, "version": 3, "file": "index-v000000000003-s0000.nann", "sha256": "9f2c...", "items": 250112},
 *     ...
 *   ]
 * }
 * </pre>
 *
 * {@code shards} lists every shard once, in shard order; {@code file} is relative to the
 * manifest's directory; {@code sha256} is the shard snapshot's checksum as
 * {@link SnapshotFormat#read} reports it; {@code items} of the manifest is the shards' sum;
 * {@code createdAtMillis} is the oldest shard snapshot's build time (everything older is in every
 * shard). The manifest's own SHA-256 (of the file's bytes) travels in its {@link IndexDescriptor}.
 *
 * @param shards one entry per shard, in shard order
 */
public record ShardManifest(long version, long items, int dim, int m, int efConstruction, long createdAtMillis,
                            List<Entry> shards) {
  public static final int FORMAT = 1;

  /** One shard of a manifest version: its own build version, snapshot file name, checksum, live items. */
  public record Entry(int shard, long version, String file, String sha256, int items) {
  }

  public ShardManifest {
    shards = List.copyOf(shards);
    for (int i = 0; i < shards.size(); i++) {
      if (shards.get(i).shard() != i) {
        throw new IllegalArgumentException("manifest version " + version + " lists shard " + shards.get(i).shard()
            + " in place " + i + ": every shard once, in shard order");
      }
    }
  }

  /**
   * The manifest of {@code version} over the newest descriptor of every shard (one-shard
   * descriptors as {@link SnapshotPublisher#publishShard} emits them, in shard order).
   */
  public static ShardManifest of(long version, List<IndexDescriptor> perShard) {
    if (perShard.isEmpty()) {
      throw new IllegalArgumentException("a manifest names at least one shard");
    }
    List<Entry> entries = new ArrayList<>();
    long items = 0;
    long created = Long.MAX_VALUE;
    for (IndexDescriptor d : perShard) {
      ShardSnapshot s = d.getShards().get(0);
      entries.add(new Entry(s.getShard(), s.getVersion(), fileName(s.getUri()), s.getSha256(), s.getItems()));
      items += s.getItems();
      created = Math.min(created, d.getCreatedAtMillis());
    }
    IndexDescriptor first = perShard.get(0);
    return new ShardManifest(version, items, first.getDim(), first.getM(), first.getEfConstruction(),
        created, entries);
  }

  private static String fileName(String uri) {
    return Path.of(URI.create(uri)).getFileName().toString();
  }

  /** The document as written (UTF-8 JSON, one shard per line, ending in a newline). */
  public String toJson() {
    StringBuilder b = new StringBuilder();
    b.append("{\n  \"format\": ").append(FORMAT)
        .append(",\n  \"version\": ").append(version)
        .append(",\n  \"items\": ").append(items)
        .append(",\n  \"dim\": ").append(dim)
        .append(",\n  \"m\": ").append(m)
        .append(",\n  \"efConstruction\": ").append(efConstruction)
        .append(",\n  \"createdAtMillis\": ").append(createdAtMillis)
        .append(",\n  \"shards\": [");
    for (int i = 0; i < shards.size(); i++) {
      Entry e = shards.get(i);
      b.append(i == 0 ? "\n" : ",\n").append("    {\"shard\": ").append(e.shard()).append(", \"version\": ")
          .append(e.version()).append(", \"file\": \"").append(e.file()).append("\", \"sha256\": \"")
          .append(e.sha256()).append("\", \"items\": ").append(e.items()).append('}');
    }
    return b.append("\n  ]\n}\n").toString();
  }

  /**
   * Writes {@code index-v<version>.manifest} into {@code store} atomically (temporary file, forced,
   * then moved), reads it back and checks it is byte for byte what was written.
   *
   * @return the hex SHA-256 of the file
   */
  public String write(Path store) {
    byte[] bytes = toJson().getBytes(StandardCharsets.UTF_8);
    Path file = store.resolve(SnapshotStore.manifestFileName(version));
    Path tmp = store.resolve(file.getFileName() + ".tmp-" + ProcessHandle.current().pid());
    try {
      Files.createDirectories(store);
      try (FileChannel out = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
          StandardOpenOption.WRITE)) {
        java.nio.ByteBuffer buf = java.nio.ByteBuffer.wrap(bytes);
        while (buf.hasRemaining()) {
          out.write(buf);
        }
        out.force(true);
      }
      try {
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      } catch (AtomicMoveNotSupportedException e) {
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
      }
      byte[] back = Files.readAllBytes(file);
      if (!java.util.Arrays.equals(back, bytes)) {
        throw new SnapshotException("manifest " + file + " did not read back as written; not publishing version "
            + version);
      }
      return sha256(back);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write manifest " + file + ": " + e.getMessage(), e);
    } finally {
      try {
        Files.deleteIfExists(tmp);
      } catch (IOException ignored) {
        // best effort: a leftover temporary file is harmless
      }
    }
  }

  /** Hex SHA-256 of a file's bytes (what a manifest descriptor's {@code sha256} is). */
  public static String sha256(Path file) {
    try {
      return sha256(Files.readAllBytes(file));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + file, e);
    }
  }

  private static String sha256(byte[] bytes) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("the JVM has no SHA-256", e);
    }
  }

  /**
   * Reads a manifest file.
   *
   * @throws SnapshotException if it is not a manifest of this format
   */
  public static ShardManifest read(Path file) {
    String text;
    try {
      text = Files.readString(file, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new SnapshotException("cannot read manifest " + file + ": " + e, e);
    }
    try {
      Map<?, ?> doc = (Map<?, ?>) new Json(text).document();
      if (((Number) doc.get("format")).intValue() != FORMAT) {
        throw new SnapshotException("manifest " + file + " has format " + doc.get("format") + "; this build reads "
            + FORMAT);
      }
      List<Entry> entries = new ArrayList<>();
      for (Object o : (List<?>) doc.get("shards")) {
        Map<?, ?> s = (Map<?, ?>) o;
        entries.add(new Entry(((Number) s.get("shard")).intValue(), ((Number) s.get("version")).longValue(),
            (String) s.get("file"), (String) s.get("sha256"), ((Number) s.get("items")).intValue()));
      }
      return new ShardManifest(((Number) doc.get("version")).longValue(), ((Number) doc.get("items")).longValue(),
          ((Number) doc.get("dim")).intValue(), ((Number) doc.get("m")).intValue(),
          ((Number) doc.get("efConstruction")).intValue(), ((Number) doc.get("createdAtMillis")).longValue(), entries);
    } catch (RuntimeException e) {
      if (e instanceof SnapshotException se) {
        throw se;
      }
      throw new SnapshotException("manifest " + file + " is malformed: " + e, e);
    }
  }

  /** Writes this manifest into {@code store} ({@link #write}) and returns the descriptor that publishes it. */
  public IndexDescriptor publish(Path store) {
    String sha = write(store);
    return descriptor(store.resolve(SnapshotStore.manifestFileName(version)), sha);
  }

  /** The descriptor that publishes this manifest, written at {@code file} with hex SHA-256 {@code sha256}. */
  public IndexDescriptor descriptor(Path file, String sha256) {
    Path store = file.toAbsolutePath().getParent();
    List<ShardSnapshot> snapshots = new ArrayList<>();
    for (Entry e : shards) {
      snapshots.add(ShardSnapshot.newBuilder().setShard(e.shard()).setVersion(e.version())
          .setUri(store.resolve(e.file()).toUri().toString()).setSha256(e.sha256()).setItems(e.items()).build());
    }
    return IndexDescriptor.newBuilder()
        .setVersion(version)
        .setUri(file.toAbsolutePath().toUri().toString())
        .setSha256(sha256)
        .setItems(Math.toIntExact(items))
        .setDim(dim)
        .setM(m)
        .setEfConstruction(efConstruction)
        .setCreatedAtMillis(createdAtMillis)
        .setShards(snapshots)
        .build();
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
