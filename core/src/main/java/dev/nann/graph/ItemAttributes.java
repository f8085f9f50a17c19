package dev.nann.graph;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Catalog attributes of an index's nodes (genre, brand, language, ...) as postings: for every
 * attribute key and value, the sorted nodes that have it. Immutable; shared by every query on the
 * snapshot. A request's attribute filter becomes one bitset of eligible nodes per query
 * ({@link #eligible}), which the walk consults as it goes.
 */
public final class ItemAttributes {
  private static final ItemAttributes EMPTY = new ItemAttributes(Map.of(), 0);

  /** key -> value -> sorted nodes. */
  private final Map<String, Map<String, int[]>> postings;
  private final int nodes;
  /** Each node's {@link #signature}, made on first use (a benign race makes it twice at worst). */
  private volatile long[] signatures;

  private ItemAttributes(Map<String, Map<String, int[]>> postings, int nodes) {
    this.postings = postings;
    this.nodes = nodes;
  }

  /** No attributes: every attribute filter matches nothing. */
  public static ItemAttributes empty() {
    return EMPTY;
  }

  /**
   * From each node's attributes ({@code perNode.get(i)} for node i; null or empty for none).
   */
  public static ItemAttributes of(List<Map<String, String>> perNode) {
    Map<String, Map<String, List<Integer>>> lists = new TreeMap<>();
    for (int node = 0; node < perNode.size(); node++) {
      Map<String, String> attrs = perNode.get(node);
      if (attrs == null) {
        continue;
      }
      for (Map.Entry<String, String> e : attrs.entrySet()) {
        lists.computeIfAbsent(e.getKey(), k -> new TreeMap<>()).computeIfAbsent(e.getValue(), v -> new ArrayList<>())
            .add(node);
      }
    }
    Map<String, Map<String, int[]>> postings = new TreeMap<>();
    lists.forEach((key, values) -> {
      Map<String, int[]> byValue = new TreeMap<>();
      values.forEach((value, list) -> byValue.put(value, list.stream().mapToInt(Integer::intValue).toArray()));
      postings.put(key, Collections.unmodifiableMap(byValue));
    });
    return postings.isEmpty() ? EMPTY : new ItemAttributes(Collections.unmodifiableMap(postings), perNode.size());
  }

  /** From postings as read from a snapshot (key -> value -> sorted nodes), over {@code nodes} nodes. */
  static ItemAttributes ofPostings(Map<String, Map<String, int[]>> postings, int nodes) {
    return postings.isEmpty() ? EMPTY : new ItemAttributes(postings, nodes);
  }

  Map<String, Map<String, int[]>> postings() {
    return postings;
  }

  public boolean isEmpty() {
    return postings.isEmpty();
  }

  /** Attribute keys present. */
  public java.util.Set<String> keys() {
    return postings.keySet();
  }

  /**
   * Nodes matching {@code filter}: for every key, one of its values (AND across keys, OR within a
   * key). A key or value no node has matches nothing; keys after one that leaves no node are not
   * looked at.
   *
   * @param size bitset size (the index's node count)
   */
  public BitSet eligible(Map<String, List<String>> filter, int size) {
    BitSet result = null;
    for (Map.Entry<String, List<String>> e : filter.entrySet()) {
      BitSet any = new BitSet(size);
      Map<String, int[]> byValue = postings.getOrDefault(e.getKey(), Map.of());
      for (String value : e.getValue()) {
        for (int node : byValue.getOrDefault(value, new int[0])) {
          any.set(node);
        }
      }
      if (result == null) {
        result = any;
      } else {
        result.and(any);
      }
      if (result.isEmpty()) {
        break;   // no item matches every key so far: the keys left cannot add any
      }
    }
    return result == null ? fullSet(size) : result;
  }

  /**
   * Whether a single item's attributes (a fresh item, not in the graph) satisfy {@code filter}; null
   * attributes (an item without any) satisfy only the empty filter.
   */
  public static boolean matches(Map<String, String> attrs, Map<String, List<String>> filter) {
    for (Map.Entry<String, List<String>> e : filter.entrySet()) {
      String v = attrs == null ? null : attrs.get(e.getKey());
      if (v == null || !e.getValue().contains(v)) {
        return false;
      }
    }
    return true;
  }

  /**
   * A 64-bit digest of one item's attributes, equal for equal maps in any order and 0 for none: the
   * sum of a SHA-256 prefix of each key and value. Two maps collide by chance with odds of 2^-64; a
   * collision made on purpose (about 2^32 tries) only delays an attribute change to the next snapshot.
   */
  public static long signature(Map<String, String> attrs) {
    long sum = 0;
    if (attrs != null) {
      for (Map.Entry<String, String> e : attrs.entrySet()) {
        sum += pairDigest(e.getKey(), e.getValue());
      }
    }
    return sum;
  }

  /** {@link #signature} of node {@code node}'s attributes, as this index holds them. */
  public long signatureOf(int node) {
    long[] s = signatures();
    return s == null || node >= s.length ? 0L : s[node];
  }

  /** Every node's {@link #signature}, or null when no node has attributes. Read only. */
  public long[] signatures() {
    if (postings.isEmpty()) {
      return null;
    }
    long[] s = signatures;
    if (s == null) {
      s = new long[nodes];
      for (Map.Entry<String, Map<String, int[]>> key : postings.entrySet()) {
        for (Map.Entry<String, int[]> value : key.getValue().entrySet()) {
          long digest = pairDigest(key.getKey(), value.getKey());
          for (int node : value.getValue()) {
            s[node] += digest;
          }
        }
      }
      signatures = s;
    }
    return s;
  }

  private static long pairDigest(String key, String value) {
    try {
      java.security.MessageDigest sha = java.security.MessageDigest.getInstance("SHA-256");
      byte[] k = key.getBytes(java.nio.charset.StandardCharsets.UTF_8);
      sha.update(java.nio.ByteBuffer.allocate(4).putInt(k.length).array());   // "a"+"bc" is not "ab"+"c"
      sha.update(k);
      sha.update(value.getBytes(java.nio.charset.StandardCharsets.UTF_8));
      return java.nio.ByteBuffer.wrap(sha.digest()).getLong();
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException("every Java runtime has SHA-256", e);
    }
  }

  private static BitSet fullSet(int size) {
    BitSet all = new BitSet(size);
    all.set(0, size);
    return all;
  }

  /** Nodes covered (the index's size when built). */
  public int nodes() {
    return nodes;
  }
}
