package dev.nann.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** {@code ./nann check-model}'s memory lines: ONNX Runtime's native memory for a real model, measured in a child JVM. */
class ModelMemoryTest {
  private static final Path REPO = Path.of(System.getProperty("nann.repo", ".."));

  @Test
  void measuresSessionsAndCallsOfARealModel() throws Exception {
    ModelMemory m = ModelMemory.measure(REPO.resolve("models/fixtures/attention-d64"));
    assertEquals(8192, m.largestRows());
    assertTrue(m.sessionsBytes() > 1_000_000, "the runtime and two sessions take resident memory: " + m);
    // an 8,192-row call of a d = 64 model holds at least one intermediate of 8,192 x 64 floats
    assertTrue(m.largestCallBytes() >= 8192L * 64 * Float.BYTES, m.toString());
    assertTrue(m.largestCallBytes() >= m.stepCallBytes(), m.toString());
    assertTrue(m.largestCallBytes() < 2_000_000_000L, "a fixture's call cannot take gigabytes: " + m);
  }

  @Test
  void aModelOfWideItemsIsMeasuredToo(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
    // d = 2048: the largest call's 8,192 candidate rows alone take 64 MB (they did not fit the child's)
    Path model = dir.resolve("wide");
    ProcessBuilder pb = new ProcessBuilder("/usr/bin/python3", "-c", String.join("\n",
        "import torch", "from torch import nn", "from nann_trainer.export import export_model_dir",
        "class User(nn.Module):",
        "    def output_names(self): return ['u_vec']",
        "    def forward(self, seq_emb, seq_mask): return ((seq_emb * seq_mask.unsqueeze(-1)).sum(1),)",
        "class Score(nn.Module):",
        "    def input_names(self): return ['u_vec', 'user_idx', 'item_emb']",
        "    def forward(self, u_vec, user_idx, item_emb): return (u_vec[user_idx] * item_emb).sum(1)",
        "class M(nn.Module):",
        "    arch = 'two-sided'",
        "    def __init__(self):",
        "        super().__init__(); self.user, self.score = User(), Score()",
        "export_model_dir('" + model + "', M(), None, dim=2048, seq_len=4, item_feat_dim=0, version='wide-1')"))
        .redirectErrorStream(true);
    pb.environment().put("PYTHONPATH", REPO.resolve("trainer").toString());
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes());
    assertEquals(0, p.waitFor(), out);
    ModelMemory m = ModelMemory.measure(model);
    assertTrue(m.largestCallBytes() >= 8192L * 2048 * Float.BYTES, m.toString());
  }

  @Test
  void theAdviceCountsASwapEveryWalkerAndTheWarmUpInALargestCall() {
    ModelMemory m = new ModelMemory(40_000_000, 50_000_000, 10_000_000, 500_000_000, 8192);
    assertEquals(40_000_000L + 50_000_000 + 9 * 500_000_000L, m.taskOffHeapBytes(8));
    List<String> lines = m.describe(8);
    assertTrue(lines.get(0).contains("40 MB for its sessions (50 MB while loading)"), lines.get(0));
    assertTrue(lines.get(0).contains("256 rows takes up to 10 MB more, one of 8,192 rows 500 MB"), lines.get(0));
    assertTrue(lines.get(1).contains("8 walker threads needs up to 4,590 MB"), lines.get(1));
  }

  @Test
  void aDirectoryThatIsNoModelFailsWithItsReason() {
    Exception e = org.junit.jupiter.api.Assertions.assertThrows(java.io.IOException.class,
        () -> ModelMemory.measure(REPO.resolve("docs")));
    assertTrue(e.getMessage().contains("measuring the model's memory failed"), e.getMessage());
  }
}
