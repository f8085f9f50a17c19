package dev.nann.shard;

import dev.nann.schemas.IndexDescriptor;
import dev.nann.schemas.ShardSnapshot;
import java.util.List;

/**
 * One shard's entry in a sharded index version's manifest. A full manifest lists all S entries in
 * shard order; the copy a scattered task carries to one shard's walk lists that shard's alone (with
 * S beside it), so that a request's S copies do not carry S^2 entries between them.
 */
public final class ShardEntries {
  private ShardEntries() {
  }

  /** Shard {@code shard}'s entry, or null when {@code manifest} (null: none) names no such shard. */
  public static ShardSnapshot of(IndexDescriptor manifest, int shard) {
    if (manifest == null || shard < 0) {
      return null;
    }
    List<ShardSnapshot> shards = manifest.getShards();
    if (shard < shards.size() && shards.get(shard).getShard() == shard) {
      return shards.get(shard);
    }
    for (ShardSnapshot s : shards) {
      if (s.getShard() == shard) {
        return s;
      }
    }
    return null;
  }

  /** {@code manifest} naming shard {@code shard}'s entry alone, or null when it names none (or for no manifest). */
  public static IndexDescriptor onlyShard(IndexDescriptor manifest, int shard) {
    ShardSnapshot entry = of(manifest, shard);
    return entry == null ? null : new IndexDescriptor(manifest.getVersion(), manifest.getUri(), manifest.getSha256(),
        manifest.getItems(), manifest.getDim(), manifest.getM(), manifest.getEfConstruction(),
        manifest.getCreatedAtMillis(), List.of(entry));
  }
}
