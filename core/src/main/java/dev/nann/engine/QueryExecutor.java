package dev.nann.engine;

import dev.nann.dr.PathModel;
import dev.nann.graph.HnswIndex;
import dev.nann.graph.ItemAttributes;
import dev.nann.scorer.ScoreBatch;
import dev.nann.scorer.Scorer;
import dev.nann.scorer.UserFeatures;
import dev.nann.scorer.UserState;
import dev.nann.search.DescentChooser;
import dev.nann.search.ScoredHeap;
import dev.nann.search.SearchMode;
import dev.nann.search.SearchParams;
import dev.nann.search.SearchResult;
import dev.nann.search.Searcher;
import dev.nann.shard.ShardAssignment;
import java.util.Arrays;
import java.util.BitSet;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Answers one query on one loaded index: the walk of its {@link SearchMode}, exclusions and the
 * attribute filter applied during the walk, the fresh set's changes scored and merged in, Deep
 * Retrieval's gather before its exact rerank. This is the one query path: the serving engine and
 * {@code ./nann eval} both run every query through it, so a figure the evaluation reports is what
 * serving does.
 *
 * <p>Not thread-safe: it owns the scratch for scoring fresh items; use one per walker thread.
 */
public final class QueryExecutor {
  /** Beam-retrieval with a filter: breadth-first steps past T_0 while fewer than k eligible items are found. */
  static final int FILTER_EXTRA_STEPS = 3;

  private final PathModel paths;
  private final int drBeam;
  private Scorer freshScorer;
  private ScoreBatch freshBatch;
  private int[] freshRows = new int[0];
  private final ScoredHeap freshTop = new ScoredHeap(256, false);

  /**
   * One query.
   *
   * @param mode how to search
   * @param k items wanted (at most the index's size are returned)
   * @param params what each mode may spend (the walk's budget already the request's)
   * @param excluded item ids never returned
   * @param attributeFilter only items matching it (empty: no filter)
   * @param shard on a sharded index, the shard this walk covers (fresh upserts of other shards are
   *     theirs to score)
   * @param shards S (1: unsharded)
   */
  public record Query(SearchMode mode, int k, SearchParams params, Set<Long> excluded,
                      Map<String, List<String>> attributeFilter, int shard, int shards) {
    public Query {
      excluded = excluded == null ? Set.of() : excluded;
      attributeFilter = attributeFilter == null ? Map.of() : attributeFilter;
      ShardAssignment.check(shards);
      if (shard < 0 || shard >= shards) {
        throw new IllegalArgumentException("shard " + shard + " is not one of " + shards);
      }
    }

    /** A query on an unsharded index. */
    public Query(SearchMode mode, int k, SearchParams params, Set<Long> excluded,
                 Map<String, List<String>> attributeFilter) {
      this(mode, k, params, excluded, attributeFilter, 0, 1);
    }

    /** No exclusions, no filter. */
    public static Query of(SearchMode mode, int k, SearchParams params) {
      return new Query(mode, k, params, Set.of(), Map.of());
    }
  }

  /**
   * The answer: item ids best first, their scores, items scored in all (walk and fresh set) and the
   * walk's own result (costs and timings).
   */
  public record Answer(long[] items, float[] scores, int scored, SearchResult walk) {
    public int size() {
      return items.length;
    }
  }

  /**
   * @param paths the Deep Retrieval structure for {@link SearchMode#DR}, or null when there is none
   * @param drBeam beam width B of Deep Retrieval's path search
   */
  public QueryExecutor(PathModel paths, int drBeam) {
    this.paths = paths;
    this.drBeam = drBeam;
  }

  /**
   * {@link #run(Searcher, LoadedIndex, Scorer, DescentChooser, UserState, UserFeatures, Query, FreshSet.View)}
   * with no fresh set.
   */
  public Answer run(Searcher searcher, LoadedIndex loaded, Scorer scorer, DescentChooser descents, UserState user,
                    UserFeatures features, Query query) {
    return run(searcher, loaded, scorer, descents, user, features, query, null);
  }

  /**
   * Runs {@code query} for a user whose network already ran ({@code user}, from {@code features}).
   *
   * @param searcher this thread's searcher over {@code loaded}'s index with the scorer of {@code user}
   * @param descents the model's chooser, which settles {@link dev.nann.search.Descent#AUTO} for mode nann
   * @param changes the fresh set as this query sees it, or null when there are no changes
   * @throws IllegalArgumentException for mode dr without a structure, or a query the walk refuses
   */
  Answer run(Searcher searcher, LoadedIndex loaded, Scorer scorer, DescentChooser descents, UserState user,
             UserFeatures features, Query query, FreshSet.View changes) {
    HnswIndex index = loaded.index();
    int k = query.k();
    Set<Long> excluded = query.excluded();
    int changed = changes == null ? 0 : changes.count();
    BitSet eligible = query.attributeFilter().isEmpty() ? null
        : index.attributes().eligible(query.attributeFilter(), index.size());
    BitSet onPaths = null;   // mode dr: the items on the chosen paths, fresh upserts included
    if (query.mode() == SearchMode.DR) {
      if (paths == null) {
        throw new IllegalArgumentException("mode dr needs a Deep Retrieval structure on this job (dr.dir)");
      }
      // the request's budget of items scored bounds mode dr too (a client cannot score the catalogue),
      // spent only on items the query may answer: not on deleted (in the snapshot or since), excluded
      // or filtered-out ones. An item upserted since is gathered when its fresh copy may pass the
      // filter: the copy is what is scored, against its own attributes
      Searcher.NodeFilter unanswerable = nodeFilter(loaded, excluded, null, null);
      BitSet byAttributes = eligible;
      BitSet upserted = new BitSet();
      BitSet deleted = new BitSet();
      changed(changes, loaded, query.attributeFilter(), upserted, deleted);
      BitSet gathered = paths.gather(paths.beamSearch(paths.userVector(features), drBeam).paths(), index,
          loaded.ids(), query.params().walk().budget(),
          node -> !index.isDeleted(node) && !deleted.get(node) && (unanswerable == null || !unanswerable.excluded(node))
              && (byAttributes == null || byAttributes.get(node) || upserted.get(node)));
      onPaths = gathered;
      eligible = gathered;   // within the attribute filter already
    }
    // exclusions act during the walk (nann, beam, brute); hnsw over-fetches and filters afterwards
    Searcher.NodeFilter filter = nodeFilter(loaded, excluded, changes, eligible);
    int kk = Math.min(k, index.size());
    SearchParams p = query.params();
    // an empty index (or filter) answers what the fresh set holds, if anything
    SearchResult result = kk == 0 || eligible != null && eligible.isEmpty() ? SearchResult.empty()
        : switch (query.mode()) {
      case BRUTE, DR -> searcher.bruteForce(user, kk, filter);
      case HNSW -> {
        // -1: no filter; counted once, O(n / 64); tombstones take over-fetched places as a filter's misses do
        int eligibleCount = eligible != null ? eligible.cardinality()
            : index.deletedCount() > 0 ? index.size() - index.deletedCount() : -1;
        long wanted = overFetch(k + excluded.size() + changed, eligibleCount, index.size());
        // a selective filter, long exclusions or a large fresh set would over-fetch up to the whole
        // catalogue: the over-fetch is bounded by the request's budget (and the walks' largest k)
        int budget = p.walk().budget();
        int fetch = (int) Math.min(Math.min(index.size(), wanted), Math.min(Math.max(kk, budget), Searcher.MAX_K));
        // the job's ef walks as the paper has it; an ef the request's own filter or exclusions raise past
        // it (HNSW-retrieval has no budget of its own) also stops at the request's budget of items
        // scored, as mode nann does; one the fresh set alone raises (bounded by fresh.max-items) does not,
        // or how full the set is between snapshots would decide how much a request scores
        boolean raisedByRequest = Math.min(index.size(), overFetch(k + excluded.size(), eligibleCount, index.size()))
            > p.hnswEf();
        yield fetch <= p.hnswEf() ? searcher.hnsw(user, fetch, p.hnswEf())
            : raisedByRequest ? searcher.hnsw(user, fetch, fetch, budget) : searcher.hnsw(user, fetch, fetch);
      }
      case BEAM -> searcher.beam(user, kk, p.beamFor(k), filter, FILTER_EXTRA_STEPS);
      case NANN -> searcher.nann(user, kk, p.walk(), filter, descents);
    };
    FreshTop fresh = changes == null ? FreshTop.NONE
        : scoreFresh(scorer, user, changes, query, k, onPaths, loaded);
    long[] items = new long[Math.min(k, result.size())];
    float[] scores = new float[items.length];
    int n = 0;
    for (int i = 0; i < result.size() && n < k; i++) {
      if (filter == null || !filter.excluded(result.nodes()[i])) {
        items[n] = index.itemId(result.nodes()[i]);
        scores[n++] = result.scores()[i];
      }
    }
    items = Arrays.copyOf(items, n);
    scores = Arrays.copyOf(scores, n);
    if (fresh.size() > 0) {
      return merge(items, scores, fresh, k, result);
    }
    return new Answer(items, scores, result.scored(), result);
  }

  /** A filter that excludes nothing: with it a walk keeps deleted nodes out of its answer. */
  private static final Searcher.NodeFilter NONE_EXCLUDED = node -> false;

  /**
   * The nodes a query may not get, as a filter for the walk (null when there are none): excluded
   * item ids, items the fresh set changed (a bit per node when the set is based on this snapshot;
   * a lookup per change for a query on another version), and with an attribute filter every node
   * outside {@code eligible}.
   */
  private static Searcher.NodeFilter nodeFilter(LoadedIndex loaded, Set<Long> excluded, FreshSet.View changes,
                                                BitSet eligible) {
    boolean onBase = changes != null && changes.base() != null && changes.base().version() == loaded.version();
    boolean shadow = onBase && changes.count() > 0;
    int changedElsewhere = changes == null || onBase ? 0 : changes.count();
    int[] nodes = new int[excluded.size() + changedElsewhere];
    int n = 0;
    for (long id : excluded) {
      int node = loaded.ids().nodeOf(id);
      if (node >= 0) {
        nodes[n++] = node;
      }
    }
    for (int e = 0; e < changedElsewhere; e++) {
      int node = loaded.ids().nodeOf(changes.itemId(e));
      if (node >= 0) {
        nodes[n++] = node;
      }
    }
    if (n == 0 && !shadow) {
      // tombstones: a walk with a filter, even one that excludes nothing, goes on until k live nodes are
      // found (the walks keep deleted nodes out of a filtered answer); without one they fill the beam
      return eligible != null ? node -> !eligible.get(node) : loaded.index().deletedCount() > 0 ? NONE_EXCLUDED : null;
    }
    int[] sorted = Arrays.copyOf(nodes, n);
    Arrays.sort(sorted);
    return node -> eligible != null && !eligible.get(node) || shadow && changes.shadows(node)
        || sorted.length > 0 && Arrays.binarySearch(sorted, node) >= 0;
  }

  /**
   * Marks, in one pass over the fresh set, the nodes of {@code loaded} whose item it last changed: by
   * an upsert whose attributes pass {@code filter} in {@code upserted}, by a delete in {@code deleted}.
   */
  private static void changed(FreshSet.View changes, LoadedIndex loaded, Map<String, List<String>> filter,
                              BitSet upserted, BitSet deleted) {
    for (int e = 0; changes != null && e < changes.count(); e++) {
      boolean delete = changes.isDelete(e);
      if (changes.isSuperseded(e)
          || !delete && !filter.isEmpty() && !ItemAttributes.matches(changes.attributes(e), filter)) {
        continue;
      }
      int node = loaded.ids().nodeOf(changes.itemId(e));
      if (node >= 0) {
        (delete ? deleted : upserted).set(node);
      }
    }
  }

  /** The best fresh items of one query, best first, and how many fresh items it scored. */
  private record FreshTop(long[] ids, float[] scores, int size, int scored) {
    static final FreshTop NONE = new FreshTop(new long[0], new float[0], 0, 0);
  }

  /**
   * Scores every fresh upsert the query may get, in score batches straight from the set's
   * embedding array, and keeps the best k. None when the upserts are of another dimension than the
   * scorer's (a query on an index from before or after a change of dimension). With {@code onPaths}
   * (mode dr), only upserts of items on the chosen paths: an item the snapshot does not hold has no
   * path yet and waits for the snapshot that assigns it one.
   */
  private FreshTop scoreFresh(Scorer scorer, UserState user, FreshSet.View changes, Query query, int k, BitSet onPaths,
                              LoadedIndex loaded) {
    Set<Long> excluded = query.excluded();
    Map<String, List<String>> attributeFilter = query.attributeFilter();
    if (changes.liveUpserts() == 0 || changes.dim() != scorer.itemDim()) {
      return FreshTop.NONE;
    }
    if (freshScorer != scorer) {
      freshScorer = scorer;
      freshBatch = scorer.newBatch();
    }
    ScoreBatch batch = freshBatch;
    if (freshRows.length < batch.capacity()) {
      freshRows = new int[batch.capacity()];
    }
    int[] rows = freshRows;
    ScoredHeap top = freshTop;
    top.reset(k);
    float[] emb = changes.embeddings();
    int dim = changes.dim();
    int scored = 0;
    int n = 0;
    for (int e = 0; e <= changes.count(); e++) {
      if (e < changes.count()) {
        if (changes.isDelete(e) || changes.isSuperseded(e)
            || !excluded.isEmpty() && excluded.contains(changes.itemId(e))
            || query.shards() > 1 && ShardAssignment.shardOf(changes.itemId(e), query.shards()) != query.shard()
            || !attributeFilter.isEmpty() && !ItemAttributes.matches(changes.attributes(e), attributeFilter)
            || onPaths != null && !onPath(onPaths, loaded, changes.itemId(e))) {
          continue;
        }
        batch.putRow(n, emb, e * dim);
        rows[n++] = e;
      }
      if (n == batch.capacity() || e == changes.count() && n > 0) {
        scorer.score(user, batch, n);
        for (int i = 0; i < n; i++) {
          top.offer(ScoredHeap.pack(rows[i], batch.scores()[i]));
        }
        scored += n;
        n = 0;
      }
    }
    int size = top.size();
    long[] ids = new long[size];
    float[] scores = new float[size];
    for (int i = size - 1; i >= 0; i--) {   // the min-heap gives the worst first
      long packed = top.poll();
      ids[i] = changes.itemId(ScoredHeap.node(packed));
      scores[i] = ScoredHeap.score(packed);
    }
    return new FreshTop(ids, scores, size, scored);
  }

  /**
   * Items an hnsw walk must fetch to keep {@code needed} after a filter passing {@code eligible} of
   * the index's items (-1: no filter).
   */
  private static long overFetch(long needed, int eligible, int indexSize) {
    return eligible < 0 ? needed : 2L * needed * indexSize / Math.max(1, eligible);
  }

  private static boolean onPath(BitSet onPaths, LoadedIndex loaded, long itemId) {
    int node = loaded.ids().nodeOf(itemId);
    return node >= 0 && onPaths.get(node);
  }

  /**
   * Merges the best fresh items into the walk's best-first list, keeping the best k and one copy of
   * each item (a query racing a change may see an item in both).
   */
  private static Answer merge(long[] items, float[] scores, FreshTop fresh, int k, SearchResult walk) {
    Set<Long> freshIds = new HashSet<>();
    for (int i = 0; i < fresh.size(); i++) {
      freshIds.add(fresh.ids()[i]);
    }
    Set<Long> taken = new HashSet<>();
    long[] outItems = new long[Math.min(k, items.length + fresh.size())];
    float[] outScores = new float[outItems.length];
    int n = 0;
    int a = 0;
    int b = 0;
    while (n < k && (a < items.length || b < fresh.size())) {
      boolean takeFresh = a >= items.length || b < fresh.size() && fresh.scores()[b] > scores[a];
      if (takeFresh) {
        if (taken.add(fresh.ids()[b])) {
          outItems[n] = fresh.ids()[b];
          outScores[n++] = fresh.scores()[b];
        }
        b++;
      } else {
        if (!freshIds.contains(items[a])) {
          outItems[n] = items[a];
          outScores[n++] = scores[a];
        }
        a++;
      }
    }
    return new Answer(Arrays.copyOf(outItems, n), Arrays.copyOf(outScores, n), walk.scored() + fresh.scored(), walk);
  }
}
