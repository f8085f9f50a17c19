package dev.nann.graph;

import java.util.HexFormat;

/**
 * Which Deep Retrieval structure a set of path codes belongs to: its shape (D layers of K nodes, J
 * paths per item) and the SHA-256 of its training output ({@code dr.json} and {@code paths.tsv}, see
 * {@code dev.nann.dr.PathTable}). A path code is a base-K number, so it only means a path of the
 * structure that made it: serving compares the identity of the structure it loaded with the one a
 * snapshot's paths carry, and index-sync drops the assignments of another structure.
 *
 * @param depth D, layers
 * @param width K, nodes per layer
 * @param perItem J, paths per item
 * @param sha256 hex SHA-256 (64 lower-case characters) of the structure's files
 */
public record DrStructureId(int depth, int width, int perItem, String sha256) {
  /** Bytes of the digest as a snapshot stores it. */
  public static final int DIGEST_BYTES = 32;

  public DrStructureId {
    if (depth < 1 || width < 2 || perItem < 1) {
      throw new IllegalArgumentException("a DR structure needs depth >= 1, width >= 2, paths per item >= 1; got D="
          + depth + ", K=" + width + ", J=" + perItem);
    }
    pathCount(depth, width);
    if (sha256 == null || sha256.length() != 2 * DIGEST_BYTES || !sha256.matches("[0-9a-f]+")) {
      throw new IllegalArgumentException("a DR structure's digest must be " + 2 * DIGEST_BYTES
          + " lower-case hex characters, got " + sha256);
    }
  }

  /**
   * K^D, the number of paths: a path's code is a base-K number below it.
   *
   * @throws IllegalArgumentException when codes would not fit a long (they would wrap and collide)
   */
  public static long pathCount(int depth, int width) {
    long n = 1;
    for (int d = 0; d < depth; d++) {
      if (n > Long.MAX_VALUE / width) {
        throw new IllegalArgumentException("a DR structure of D=" + depth + " layers of K=" + width
            + " nodes has more paths than a 64-bit path code can name (K^D must stay below 2^63)");
      }
      n *= width;
    }
    return n;
  }

  /** K^D, the number of paths of this structure. */
  public long paths() {
    return pathCount(depth, width);
  }

  /** The identity with a digest given as bytes. */
  public static DrStructureId of(int depth, int width, int perItem, byte[] digest) {
    if (digest.length != DIGEST_BYTES) {
      throw new IllegalArgumentException("a DR structure's digest is " + DIGEST_BYTES + " bytes, got " + digest.length);
    }
    return new DrStructureId(depth, width, perItem, HexFormat.of().formatHex(digest));
  }

  /** The digest as bytes. */
  public byte[] digest() {
    return HexFormat.of().parseHex(sha256);
  }

  /** "D=3 K=16 J=3 sha256=1a2b3c4d5e6f": enough to tell two structures apart in a message. */
  @Override
  public String toString() {
    return "D=" + depth + " K=" + width + " J=" + perItem + " sha256=" + sha256.substring(0, 12);
  }

  /** The whole identity as one string, for keyed state: {@code D/K/J/sha256}. */
  public String key() {
    return depth + "/" + width + "/" + perItem + "/" + sha256;
  }
}
