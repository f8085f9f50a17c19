package dev.nann.engine;

import dev.nann.schemas.ResponseStatus;
import dev.nann.schemas.RetrievalRequest;
import dev.nann.schemas.RetrievalResponse;
import dev.nann.schemas.codec.SentAtHeader;
import dev.nann.search.SearchMode;
import java.util.List;
import java.util.Map;

/**
 * What a valid request is and the shape of every answer: the checks a request passes before any
 * work is done on it (the serving job runs them before the async hop, the engine again before it
 * walks), and the responses built for it, so every status carries the same fields.
 */
public final class RequestProtocol {
  /**
   * Most keys an attribute filter may name. Each key costs a bitset over the whole catalogue per
   * query, so an unbounded filter would let one request allocate gigabytes.
   */
  public static final int MAX_FILTER_KEYS = 32;

  /** Most values an attribute filter may list for one key. */
  public static final int MAX_FILTER_VALUES = 1024;

  private RequestProtocol() {}

  /** Now, in epoch microseconds: the clock of the latency breakdown's stamps, the one clients stamp requests with. */
  public static long nowMicros() {
    return SentAtHeader.nowMicros();
  }

  /** Why a request is invalid on an engine with {@code config}, or null if it is fine. */
  public static String validate(RetrievalRequest req, EngineConfig config) {
    return validate(req, config.maxK(), config.allowBrute());
  }

  /** Why a request is invalid, or null if it is fine. */
  public static String validate(RetrievalRequest req, int maxK, boolean allowBrute) {
    SearchMode mode;
    try {
      mode = SearchMode.parse(req.getMode());
    } catch (IllegalArgumentException e) {
      return e.getMessage();
    }
    if (mode == SearchMode.BRUTE && !allowBrute) {
      return "mode brute (a scan of the whole catalogue) is disabled on this job (search.allow-brute)";
    }
    if (req.getBudget() < 0) {
      return "budget=" + req.getBudget() + " is negative: give the most items the walk may score, or 0 for the job's default";
    }
    if (req.getK() < 1 || req.getK() > maxK) {
      return "k=" + req.getK() + " is out of range [1, " + maxK + "]";
    }
    if (req.getRequestId() == null || req.getRequestId().isEmpty()) {
      return "requestId is empty";
    }
    Map<String, List<String>> filter = attributeFilter(req);
    if (filter.size() > MAX_FILTER_KEYS) {
      return "attributeFilter names " + filter.size() + " keys; at most " + MAX_FILTER_KEYS + " are allowed";
    }
    for (Map.Entry<String, List<String>> e : filter.entrySet()) {
      if (e.getKey().isEmpty() || e.getValue().isEmpty()) {
        return "attributeFilter '" + e.getKey() + "' needs a non-empty key and at least one value";
      }
      if (e.getValue().size() > MAX_FILTER_VALUES) {
        return "attributeFilter '" + e.getKey() + "' lists " + e.getValue().size() + " values; at most "
            + MAX_FILTER_VALUES + " are allowed per key";
      }
    }
    return null;
  }

  /** The request's attribute filter; empty when a request built in code left it unset. */
  public static Map<String, List<String>> attributeFilter(RetrievalRequest req) {
    return req.getAttributeFilter() == null ? Map.of() : req.getAttributeFilter();
  }

  /** An answer without items: every field set, versions unknown (-1, ""). */
  public static RetrievalResponse error(RetrievalRequest req, ResponseStatus status, String detail) {
    RetrievalResponse r = new RetrievalResponse();
    r.setRequestId(req.getRequestId() == null ? "" : req.getRequestId());
    r.setUserId(req.getUserId());
    r.setStatus(status);
    r.setDetail(detail);
    r.setItems(List.of());
    r.setScores(List.of());
    r.setIndexVersion(-1L);
    r.setModelVersion("");
    r.setItemsScored(0);
    r.setLatencyMillis(0f);
    r.setEngineMillis(0f);
    r.setTimings(new java.util.HashMap<>());
    r.setMissingShards(List.of());
    return r;
  }

  /** An answer without items from a known index and model. */
  public static RetrievalResponse error(RetrievalRequest req, ResponseStatus status, String detail, long indexVersion,
                                        String modelVersion) {
    RetrievalResponse r = error(req, status, detail);
    r.setIndexVersion(indexVersion);
    r.setModelVersion(modelVersion);
    return r;
  }

  /** An answer with items, best first. */
  public static RetrievalResponse answer(RetrievalRequest req, ResponseStatus status, String detail, long indexVersion,
                                         String modelVersion, List<Long> items, List<Float> scores, int itemsScored) {
    RetrievalResponse r = error(req, status, detail, indexVersion, modelVersion);
    r.setItems(items);
    r.setScores(scores);
    r.setItemsScored(itemsScored);
    return r;
  }
}
