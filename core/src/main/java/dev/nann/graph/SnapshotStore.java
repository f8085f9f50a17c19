package dev.nann.graph;

import java.io.IOException;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The file names of a snapshot store: one file per unsharded index version
 * ({@code index-v<version>.nann}), or for a sharded index one file per shard build
 * ({@code index-v<version>-s<shard>.nann}) and one manifest per index version
 * ({@code index-v<version>.manifest}); and which versions a store holds. What is inside a snapshot
 * file is {@link SnapshotFormat}'s.
 */
public final class SnapshotStore {
  private static final Pattern SHARD_FILE = Pattern.compile("index-v(\\d{12})-s(\\d{4})\\.nann");

  private SnapshotStore() {
  }

  /** File name of a version's snapshot in a snapshot store. */
  public static String fileName(long version) {
    return String.format("index-v%012d.nann", version);
  }

  /** The versions with a snapshot file in {@code store}, newest first (none when it does not exist). */
  public static long[] versionsIn(Path store) {
    return versionsMatching(store, "index-v\\d{12}\\.nann", "");
  }

  /**
   * File name of one shard's snapshot in a sharded index's store: {@code index-v<version>-s<shard>.nann}
   * (version 12 digits, shard 4), where {@code version} is the shard's own build version. The
   * unsharded pattern ({@link #fileName}, {@link #versionsIn}) never matches it.
   */
  public static String shardFileName(long version, int shard) {
    if (version < 0 || shard < 0 || shard > 9999) {
      throw new IllegalArgumentException("no shard file name for version " + version + ", shard " + shard);
    }
    return String.format("index-v%012d-s%04d.nann", version, shard);
  }

  /** The versions of {@code shard} with a snapshot file in {@code store}, newest first (none when it does not exist). */
  public static long[] shardVersionsIn(Path store, int shard) {
    String suffix = String.format("-s%04d.nann", shard);
    return versionsMatching(store, SHARD_FILE.pattern(), suffix);
  }

  /**
   * The shard version and shard number of a shard snapshot's file name ({@link #shardFileName}), or
   * null when {@code name} is not one.
   */
  public static long[] parseShardFileName(String name) {
    Matcher m = SHARD_FILE.matcher(name);
    return m.matches() ? new long[] {Long.parseLong(m.group(1)), Integer.parseInt(m.group(2))} : null;
  }

  /** File name of a sharded index version's manifest in a snapshot store: {@code index-v<version>.manifest}. */
  public static String manifestFileName(long version) {
    return String.format("index-v%012d.manifest", version);
  }

  /** The versions with a manifest file in {@code store}, newest first (none when it does not exist). */
  public static long[] manifestVersionsIn(Path store) {
    return versionsMatching(store, "index-v\\d{12}\\.manifest", "");
  }

  private static long[] versionsMatching(Path store, String regex, String suffix) {
    if (!java.nio.file.Files.isDirectory(store)) {
      return new long[0];
    }
    try (java.util.stream.Stream<Path> files = java.nio.file.Files.list(store)) {
      return files.map(p -> p.getFileName().toString()).filter(n -> n.matches(regex) && n.endsWith(suffix))
          .mapToLong(n -> Long.parseLong(n.substring(7, 19))).boxed().sorted(java.util.Comparator.reverseOrder())
          .mapToLong(Long::longValue).toArray();
    } catch (IOException e) {
      throw new java.io.UncheckedIOException("cannot list the snapshot store " + store, e);
    }
  }
}
