package dev.nann.engine;

import dev.nann.scorer.ScorerRuntime;
import dev.nann.search.BeamParams;
import dev.nann.search.SearchParams;
import dev.nann.search.WalkParams;
import java.io.Serializable;

/**
 * Settings of the TaskManager-wide retrieval engine. Operators with equal configs share one engine.
 *
 * @param defaultModelDir model directory used until a model descriptor names another
 * @param walkerThreads threads walking the graph (one query each at a time)
 * @param scorerThreads ONNX Runtime intra-op threads per score call
 * @param microBatching merge concurrent queries' score batches into one runtime call
 * @param batchMaxRows most rows in a merged call
 * @param batchMaxWaitMicros longest a batch waits for others to join
 * @param ef mode=beam (Beam-retrieval) ef per layer, top first ("100,200,400")
 * @param steps mode=beam steps per layer, top first ("1,1,3")
 * @param hnswEf ef at layer 0 for mode=hnsw
 * @param width beam width W of the default walk (mode=nann)
 * @param budget items mode=nann may score per request when the request names no budget
 * @param maxBudget most items a request may ask mode=nann to score (larger asks are capped)
 * @param maxK largest k a request may ask for
 * @param snapshotDir where relative snapshot uris resolve
 * @param provider ONNX Runtime execution provider: {@code cpu}, {@code cuda} or {@code auto}
 * @param deviceId CUDA device ordinal for {@code cuda}/{@code auto}
 * @param drDir a Deep Retrieval structure (trainer/train_dr.py output) for {@code mode=dr}, or null
 * @param drBeam beam width B of {@code mode=dr}
 */
public record EngineConfig(String defaultModelDir, int walkerThreads, int scorerThreads, boolean microBatching,
                           int batchMaxRows, long batchMaxWaitMicros, String ef, String steps, int hnswEf, int width,
                           int budget, int maxBudget, int maxK,
                           String snapshotDir, String provider, int deviceId, String drDir, int drBeam)
    implements Serializable {
  public EngineConfig {
    if (walkerThreads < 1 || scorerThreads < 1) {
      throw new IllegalArgumentException("walker and scorer threads must be >= 1");
    }
    if (maxK < 1) {
      throw new IllegalArgumentException("maxK must be >= 1, got " + maxK);
    }
    searchParams(ef, steps, hnswEf, width, budget);   // fail at configuration time, not on the first request
    if (maxBudget < budget) {
      throw new IllegalArgumentException("search.max-budget (" + maxBudget + ") is below search.budget (" + budget + ")");
    }
    new ScorerRuntime(ScorerRuntime.Provider.parse(provider), deviceId, scorerThreads);
    if (drBeam < 1) {
      throw new IllegalArgumentException("dr beam must be >= 1, got " + drBeam);
    }
  }

  /** How models are run (provider, device, threads per call). */
  public ScorerRuntime runtime() {
    return new ScorerRuntime(ScorerRuntime.Provider.parse(provider), deviceId, scorerThreads);
  }

  /** What each mode may spend per request, by default. */
  public SearchParams search() {
    return searchParams(ef, steps, hnswEf, width, budget);
  }

  private static SearchParams searchParams(String ef, String steps, int hnswEf, int width, int budget) {
    return new SearchParams(new WalkParams(width, budget), BeamParams.parse(ef, steps), hnswEf);
  }

  /**
   * The walk's budget for a request that asks for {@code requested} items scored (0: the default),
   * capped at {@link #maxBudget} and raised to k (a walk must score at least the k it returns).
   */
  public int budgetFor(int requested, int k) {
    int b = requested <= 0 ? budget : Math.min(requested, maxBudget);
    return Math.max(b, k);
  }
}
