package dev.nann.engine;

import dev.nann.graph.ManifestFile;
import dev.nann.graph.SnapshotFormat;
import dev.nann.graph.SnapshotStore;
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
 * the descriptor claims (a snapshot also its SHA-256, read from the trailer: the full check is the
 * load's); a sharded index's manifest must be the file of its version, with its SHA-256 and listing
 * exactly its shards; and an index version may be at most {@code maxVersionStep} above the current
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
      // the catalogue keeps the first descriptor of a version: one with a made-up SHA-256 must not take it
      return refuseChecksum("snapshot " + file, SnapshotFormat.storedChecksum(file), d.getSha256(),
          "the descriptor of index version " + d.getVersion());
    } catch (RuntimeException e) {
      return "index version " + d.getVersion() + ": " + e.getMessage();
    }
  }

  /**
   * A manifest descriptor must agree with its manifest file, and the file with every shard file:
   * the file is the one named for the descriptor's version, its bytes have the descriptor's SHA-256,
   * it lists exactly the descriptor's shards (version, file, SHA-256, items), and each shard file
   * holds the version and SHA-256 listed. So a real manifest's shard list copied under a far higher
   * version, or an older shard file still in the store slipped into a version, is refused.
   */
  private String refuseManifest(IndexDescriptor d) {
    String index = "index version " + d.getVersion();
    try {
      Path file = snapshotFile(d.getUri());
      String name = SnapshotStore.manifestFileName(d.getVersion());
      if (!file.getFileName().toString().equals(name)) {
        return index + " names the manifest " + file + "; the manifest of that version is " + name;
      }
      ManifestFile manifest = ManifestFile.read(file);
      String why = refuseChecksum("manifest " + file, manifest.sha256(), d.getSha256(), "the descriptor of " + index);
      if (why != null) {
        return why;
      }
      if (manifest.version() != d.getVersion() || manifest.items() != d.getItems() || manifest.dim() != d.getDim()
          || manifest.shards().size() != d.getShards().size()) {
        return "manifest " + file + " holds version " + manifest.version() + ", " + manifest.items() + " items of dim "
            + manifest.dim() + " in " + manifest.shards().size() + " shards; its descriptor says version "
            + d.getVersion() + ", " + d.getItems() + " items of dim " + d.getDim() + " in " + d.getShards().size();
      }
      for (int i = 0; i < d.getShards().size(); i++) {
        why = refuseShard(d, i, file, manifest.shards().get(i));
        if (why != null) {
          return why;
        }
      }
      return null;
    } catch (RuntimeException e) {
      return index + ": " + e.getMessage();
    }
  }

  /** Shard {@code i} of a manifest descriptor: as its manifest lists it, and its file as both say. */
  private String refuseShard(IndexDescriptor d, int i, Path manifestFile, ManifestFile.Shard listed) {
    ShardSnapshot s = d.getShards().get(i);
    if (s.getShard() != i) {
      return "index version " + d.getVersion() + " names shard " + s.getShard() + " in place " + i;
    }
    Path file = snapshotFile(s.getUri());
    String name = SnapshotStore.shardFileName(s.getVersion(), i);
    if (!file.equals(manifestFile.resolveSibling(name)) || listed.shard() != i || listed.version() != s.getVersion()
        || !name.equals(listed.file()) || !listed.sha256().equalsIgnoreCase(s.getSha256())
        || listed.items() != s.getItems()) {
      return "index version " + d.getVersion() + " names shard " + i + " as " + file + " (version " + s.getVersion()
          + ", SHA-256 " + s.getSha256() + ", " + s.getItems() + " items); its manifest " + manifestFile + " lists "
          + listed.file() + " (version " + listed.version() + ", SHA-256 " + listed.sha256() + ", " + listed.items()
          + " items)";
    }
    long stored = SnapshotFormat.storedVersion(file);
    if (stored != s.getVersion()) {
      return "shard snapshot " + file + " holds version " + stored + ", the manifest of index version "
          + d.getVersion() + " says " + s.getVersion();
    }
    return refuseChecksum("shard snapshot " + file, SnapshotFormat.storedChecksum(file), s.getSha256(),
        "the manifest of index version " + d.getVersion());
  }

  /** Why a file storing SHA-256 {@code stored} is not the one {@code by} names with {@code claimed}, or null. */
  private static String refuseChecksum(String what, String stored, String claimed, String by) {
    return stored.equalsIgnoreCase(String.valueOf(claimed)) ? null
        : what + " has SHA-256 " + stored + ", " + by + " says " + claimed;
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
