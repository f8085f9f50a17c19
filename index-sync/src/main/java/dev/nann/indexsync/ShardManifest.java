package dev.nann.indexsync;

import dev.nann.graph.ManifestFile;
import dev.nann.graph.SnapshotException;
import dev.nann.graph.SnapshotFormat;
import dev.nann.graph.SnapshotStore;
import dev.nann.graph.StoreFiles;
import dev.nann.schemas.IndexDescriptor;
import dev.nann.schemas.ShardSnapshot;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

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
  public static final int FORMAT = ManifestFile.FORMAT;

  /** One shard of a manifest version: its own build version, snapshot file name, checksum, live items. */
  public record Entry(int shard, long version, String file, String sha256, int items) {
  }

  public ShardManifest {
    shards = List.copyOf(shards);
    if (items > Integer.MAX_VALUE) {   // before anything is written: its descriptor's items is an Avro int
      throw new IllegalArgumentException("manifest version " + version + " would serve " + items + " items; an index "
          + "version holds at most " + Integer.MAX_VALUE);
    }
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
    // an empty shard has no rows, so no dimension of its own that matters (one published before an
    // index.dim change never rebuilds: it receives no item)
    IndexDescriptor first = perShard.stream().filter(d -> d.getItems() > 0).findFirst().orElse(perShard.get(0));
    String mixed = mixedDimensions(perShard);
    if (mixed != null) {
      throw new IllegalArgumentException("manifest version " + version + " would mix item dimensions: " + mixed);
    }
    return new ShardManifest(version, items, first.getDim(), first.getM(), first.getEfConstruction(),
        created, entries);
  }

  /**
   * Null when every one-shard descriptor with items has the same item dimension, else which shards
   * have which ("shards [0, 2] at dim 16, [1] at dim 32"): serving sizes every shard's rows by the
   * manifest's one. Empty shards have no rows and fit any.
   */
  public static String mixedDimensions(List<IndexDescriptor> perShard) {
    java.util.Map<Integer, List<Integer>> byDim = new java.util.TreeMap<>();
    for (IndexDescriptor d : perShard) {
      if (d.getItems() == 0) {
        continue;
      }
      byDim.computeIfAbsent(d.getDim(), k -> new ArrayList<>()).add(d.getShards().get(0).getShard());
    }
    if (byDim.size() <= 1) {
      return null;
    }
    StringBuilder b = new StringBuilder("shards ");
    byDim.forEach((dim, shards) -> b.append(b.length() > 7 ? ", " : "")
        .append(shards.size() > 16 ? shards.subList(0, 16) + "..." : shards).append(" at dim ").append(dim));
    return b.toString();
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
          .append(e.version()).append(", \"file\": ").append(quoted(e.file())).append(", \"sha256\": ")
          .append(quoted(e.sha256())).append(", \"items\": ").append(e.items()).append('}');
    }
    return b.append("\n  ]\n}\n").toString();
  }

  /** {@code text} as a JSON string (quotes, backslashes and control characters escaped). */
  private static String quoted(String text) {
    StringBuilder b = new StringBuilder("\"");
    com.fasterxml.jackson.core.io.JsonStringEncoder.getInstance().quoteAsString(text, b);
    return b.append('"').toString();
  }

  /**
   * Writes {@code index-v<version>.manifest} into {@code store} atomically (a uniquely named
   * temporary file, forced, then given the name without replacing another manifest of that
   * version: {@link StoreFiles#publish}), reads it back and checks it is byte for byte what was written.
   *
   * @return the hex SHA-256 of the file
   * @throws SnapshotException if a manifest of this version already exists with other contents
   */
  public String write(Path store) {
    byte[] bytes = toJson().getBytes(StandardCharsets.UTF_8);
    Path file = store.resolve(SnapshotStore.manifestFileName(version));
    Path tmp = null;
    try {
      tmp = StoreFiles.tempFile(file);
      try (FileChannel out = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
        java.nio.ByteBuffer buf = java.nio.ByteBuffer.wrap(bytes);
        while (buf.hasRemaining()) {
          out.write(buf);
        }
        out.force(true);
      }
      StoreFiles.publish(tmp, file);
      byte[] back = Files.readAllBytes(file);
      if (!java.util.Arrays.equals(back, bytes)) {
        throw new SnapshotException("manifest " + file + " did not read back as written; not publishing version "
            + version);
      }
      return ManifestFile.sha256(back);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write manifest " + file + ": " + e.getMessage(), e);
    } finally {
      try {
        if (tmp != null) {
          Files.deleteIfExists(tmp);
        }
      } catch (IOException ignored) {
        // best effort: a leftover temporary file is harmless
      }
    }
  }

  /** Hex SHA-256 of a file's bytes (what a manifest descriptor's {@code sha256} is). */
  public static String sha256(Path file) {
    try {
      return ManifestFile.sha256(Files.readAllBytes(file));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + file, e);
    }
  }

  /**
   * Reads a manifest file ({@link ManifestFile#read}, which serving uses too).
   *
   * @throws SnapshotException if it is not a manifest of this format
   */
  public static ShardManifest read(Path file) {
    ManifestFile f = ManifestFile.read(file);
    List<Entry> entries = new ArrayList<>();
    for (ManifestFile.Shard s : f.shards()) {
      entries.add(new Entry(s.shard(), s.version(), s.file(), s.sha256(), s.items()));
    }
    try {
      return new ShardManifest(f.version(), f.items(), f.dim(), f.m(), f.efConstruction(), f.createdAtMillis(), entries);
    } catch (IllegalArgumentException e) {
      throw new SnapshotException("manifest " + file + " is malformed: " + e.getMessage(), e);
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
}
