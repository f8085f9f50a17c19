package dev.nann.scorer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nann.TestData;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Models a user may bring that the reference trainer does not make, exported with its
 * {@code export_model_dir}: each is served, or refused with what to fix.
 */
class UnusualModelsTest {
  /** A two-tower model: an MLP over the mean behaviour embedding, and the items' own embeddings. */
  private static final String USER_TOWER = """
      class User(nn.Module):
          def __init__(self):
              super().__init__()
              self.mlp = nn.Sequential(nn.Linear(D, D), nn.Tanh(), nn.Linear(D, D))
          def output_names(self):
              return ["u_vec"]
          def forward(self, seq_emb, seq_mask):
              pooled = (seq_emb * seq_mask.unsqueeze(-1)).sum(1) / seq_mask.sum(1, keepdim=True).clamp(min=1.0)
              return (self.mlp(pooled),)
      """;

  @TempDir
  Path dir;

  @Test
  void aCosineScorerUndefinedOnlyAtTheZeroItemIsServed() throws Exception {
    // no epsilon: NaN for an all-zero item, which no real item is
    Path model = TestData.exported(dir.resolve("cosine"), "cosine-1", 16, 8, USER_TOWER + """
        class Score(nn.Module):
            def input_names(self):
                return ["u_vec", "user_idx", "item_emb"]
            def forward(self, u_vec, user_idx, item_emb):
                u = u_vec[user_idx]
                return (u * item_emb).sum(1) / (u.norm(dim=1) * item_emb.norm(dim=1))
        class Model(nn.Module):
            arch = "cosine"
            def __init__(self):
                super().__init__()
                self.user, self.score = User(), Score()
        torch.manual_seed(1)
        model = Model()
        """);
    try (OnnxScorer scorer = OnnxScorer.open(model, 1)) {   // warming every batch size up must not refuse it
      assertEquals(16, scorer.itemDim());
    }
    ModelCheck.Report report = ModelCheck.run(model, 64, 7);
    assertTrue(report.ok(), "problems: " + report.problems());
  }
}
