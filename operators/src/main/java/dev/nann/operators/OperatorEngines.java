package dev.nann.operators;

import dev.nann.engine.EngineConfig;
import dev.nann.engine.RetrievalEngine;
import dev.nann.scorer.OrtEnv;
import org.apache.flink.api.common.functions.RuntimeContext;

/** How an operator takes the TaskManager's shared engine. */
final class OperatorEngines {
  private OperatorEngines() {
  }

  /**
   * The shared engine for {@code config} ({@link RetrievalEngine#acquire}; give it back with {@link
   * RetrievalEngine#release}). A job jar that carries ONNX Runtime lets it go with the job's classes
   * ({@link OrtEnv#release}): the hook is registered first, so an engine that fails to start after
   * loading the runtime is covered too.
   */
  static RetrievalEngine acquire(RuntimeContext ctx, EngineConfig config) {
    ctx.registerUserCodeClassLoaderReleaseHookIfAbsent(OrtEnv.RELEASE_HOOK, () -> OrtEnv.release());
    return RetrievalEngine.acquire(config);
  }
}
