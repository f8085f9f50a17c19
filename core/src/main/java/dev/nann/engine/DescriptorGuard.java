package dev.nann.engine;

import dev.nann.graph.SnapshotFormat;
import dev.nann.schemas.IndexDescriptor;
import dev.nann.schemas.ShardSnapshot;
import dev.nann.schemas.ModelDescriptor;
import dev.nann.scorer.ModelSpec;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;

/**
 * What an index or model descriptor may name. Descriptors arrive on Kafka topics that anyone with
 * write access can fill, so each one is checked before it can become current: its uri must resolve,
 * after normalisation and following links, inside the configured root (snapshots under
 * {@code snapshot.dir}, models under {@code model.root}); the file must exist and hold the version
 * the descriptor claims; and an index version may be at most {@code maxVersionStep} above the current
 * one, so one absurd version cannot freeze every later swap. Refusal reasons name paths: they go to
 * logs and metrics, never to clients.
 */
public final class DescriptorGuard {
  private final Path snapshotRoot;
  private final Path modelRoot;
  private final long maxVersionStep;
  private final int shards;

  /** A guard for an unsharded index. */
  public DescriptorGuard(String snapshotRoot, String modelRoot, long maxVersionStep) {
    this(snapshotRoot, modelRoot, maxVersionStep, 1);
  }

  /**
   * @param snapshotRoot the only directory snapshots may be read from
   * @param modelRoot the only directory model directories may be read from
   * @param maxVersionStep largest step an index version may take above the current one
   * @param shards S: index descriptors must be manifests of exactly S shards (1: plain snapshots)
   */
  public DescriptorGuard(String snapshotRoot, String modelRoot, long maxVersionStep, int shards) {
    this.snapshotRoot = Path.of(snapshotRoot).toAbsolutePath().normalize();
    this.modelRoot = Path.of(modelRoot).toAbsolutePath().normalize();
    this.maxVersionStep = maxVersionStep;
    this.shards = shards;
  }

  /** The snapshot store: the only directory snapshots are read from. */
  public Path snapshotRoot() {
    return snapshotRoot;
  }

  /** The snapshot file {@code uri} names, inside the snapshot root. */
  public Path snapshotFile(String uri) {
    return confine(uri, snapshotRoot, "snapshot");
  }

  /** The model directory {@code uri} names, inside the model root. */
  public Path modelDir(String uri) {
    return confine(uri, modelRoot, "model");
  }

  /** Why an index descriptor must not become current after {@code currentVersion} (-1: none), or null. */
  public String refuseIndex(IndexDescriptor d, long currentVersion) {
    if (d.getVersion() < 0) {
      return "index version " + d.getVersion() + " is negative";
    }
    if (currentVersion >= 0 && d.getVersion() - currentVersion > maxVersionStep) {
      return "index version " + d.getVersion() + " is more than " + maxVersionStep + " above the current "
          + currentVersion + " (descriptors.max-version-step)";
    }
    int named = d.getShards() == null ? 0 : d.getShards().size();
    if (!hasLayout(d)) {
      return "index version " + d.getVersion() + (named == 0 ? " is unsharded" : " has " + named + " shards")
          + ", this job serves " + (shards == 1 ? "an unsharded index" : shards + " shards") + " (index.shards)";
    }
    if (named > 0) {
      return refuseManifest(d);
    }
    try {
      Path file = snapshotFile(d.getUri());
      long stored = SnapshotFormat.storedVersion(file);
      if (stored != d.getVersion()) {
        return "snapshot " + file + " holds version " + stored + ", the descriptor says " + d.getVersion();
      }
      return null;
    } catch (RuntimeException e) {
      return "index version " + d.getVersion() + ": " + e.getMessage();
    }
  }

  /** Every shard entry in order, inside the root, each file holding the shard version it is named with. */
  private String refuseManifest(IndexDescriptor d) {
    try {
      snapshotFile(d.getUri());
      for (int i = 0; i < d.getShards().size(); i++) {
        ShardSnapshot s = d.getShards().get(i);
        if (s.getShard() != i) {
          return "index version " + d.getVersion() + " names shard " + s.getShard() + " in place " + i;
        }
        Path file = snapshotFile(s.getUri());
        long stored = SnapshotFormat.storedVersion(file);
        if (stored != s.getVersion()) {
          return "shard snapshot " + file + " holds version " + stored + ", the manifest of index version "
              + d.getVersion() + " says " + s.getVersion();
        }
      }
      return null;
    } catch (RuntimeException e) {
      return "index version " + d.getVersion() + ": " + e.getMessage();
    }
  }

  /**
   * Whether an index descriptor has the shard count this job serves: S shards, or none for an
   * unsharded index (S = 1). State restored from a job of another S may hold one that has not.
   */
  public boolean hasLayout(IndexDescriptor d) {
    int named = d.getShards() == null ? 0 : d.getShards().size();
    return named == (shards == 1 ? 0 : shards);
  }

  /** Why a model descriptor must not become current, or null. */
  public String refuseModel(ModelDescriptor d) {
    try {
      Path dir = modelDir(d.getUri());
      String stored = ModelSpec.read(dir).version();
      if (!stored.equals(d.getVersion())) {
        return "model directory " + dir + " holds version " + stored + ", the descriptor says " + d.getVersion();
      }
      return null;
    } catch (RuntimeException e) {
      return "model " + d.getVersion() + ": " + e.getMessage();
    }
  }

  /**
   * {@code uri} (a path, or a {@code file:} uri without host) resolved against {@code root} when
   * relative, normalised, and with links followed where it exists; refused unless it stays inside
   * {@code root}.
   */
  static Path confine(String uri, Path root, String what) {
    if (uri == null || uri.isBlank()) {
      throw new IllegalArgumentException("the " + what + " uri is empty");
    }
    Path p;
    if (uri.startsWith("file:")) {
      URI u;
      try {
        u = URI.create(uri);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("the " + what + " uri " + uri + " is not a valid uri");
      }
      if (u.getAuthority() != null || u.getQuery() != null || u.getFragment() != null || u.getPath() == null) {
        throw new IllegalArgumentException("the " + what + " uri " + uri + " must be a plain file: uri");
      }
      p = Path.of(u.getPath());
    } else if (uri.matches("^[a-zA-Z][a-zA-Z0-9+.-]*://.*")) {
      throw new IllegalArgumentException("the " + what + " uri " + uri + " is not a local path (a shared volume "
          + "mounted on every TaskManager is required)");
    } else {
      try {
        p = Path.of(uri);
      } catch (InvalidPathException e) {
        throw new IllegalArgumentException("the " + what + " uri " + uri + " is not a path: " + e.getReason());
      }
    }
    Path resolved = root.resolve(p).toAbsolutePath().normalize();
    Path realRoot = real(root);
    Path real = Files.exists(resolved) ? real(resolved) : resolved;
    if (!real.startsWith(realRoot) || real.equals(realRoot)) {
      throw new IllegalArgumentException("the " + what + " uri " + uri + " resolves to " + real + ", outside "
          + realRoot + " where " + what + "s must be");
    }
    return resolved;
  }

  private static Path real(Path p) {
    try {
      return p.toRealPath();
    } catch (IOException e) {
      return p.toAbsolutePath().normalize();
    }
  }
}
