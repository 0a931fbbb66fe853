#include "services/scoring/fit.h"

#include <fstream>
#include <random>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace rebound::scoring {
namespace {

std::string ShippedJson() {
  std::ifstream in(REBOUND_SOURCE_DIR "/config/classifier.json");
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

ClassifierConfig Shipped() {
  auto c = ParseClassifierConfig(ShippedJson());
  EXPECT_TRUE(c.ok()) << c.status();
  return c.ok() ? *c : ClassifierConfig{};
}

// A decline with something for every reason: a thin profile, a pitch, a
// rival, a senior recipient.
DeclineContext Mixed() {
  DeclineContext c;
  c.event.set_event_id("e1");
  c.event.set_tenant_id("t");
  c.event.set_sender_id("s");
  c.event.set_recipient_id("r");
  c.event.mutable_occurred_at()->set_seconds(1704708000 + 7200);
  c.event.mutable_request_declined()->set_request_id("q");
  c.event.mutable_request_declined()->set_kind(
      rebound::v1::DECLINE_KIND_DECLINED);
  rebound::v1::RequestSent req;
  req.set_request_id("q");
  req.set_note("Quick call about our platform? I enjoyed your talk.");
  auto* s = req.mutable_sender_profile();
  s->set_has_photo(false);
  s->set_connection_count(30);
  s->set_completeness(0.3);
  s->set_headline("Head of Growth, payments platform");
  s->set_industry("fintech");
  s->set_company("A");
  s->set_seniority(rebound::v1::SENIORITY_ENTRY);
  auto* r = req.mutable_recipient_profile();
  r->set_headline("Head of Growth, payments");
  r->set_industry("fintech");
  r->set_company("B");
  r->set_seniority(rebound::v1::SENIORITY_CXO);
  r->set_follower_count(90000);
  c.request = req;
  c.sent_at = absl::FromUnixSeconds(1704708000);
  c.viewed = true;
  c.sender_sent = 40;
  c.sender_declined = 20;
  c.sender_accepted = 5;
  c.recipient_received = 50;
  c.recipient_accepted = 2;
  return c;
}

TEST(Fit, TheFeaturesReproduceTheClassifier) {
  const ClassifierConfig config = Shipped();
  const auto names = FitWeightNames(config);
  ASSERT_EQ(names.size(), 35u);
  const DeclineContext ctx = Mixed();
  const auto p =
      Predict(ModelOf(config, names), Features(config, names, ctx, 0));
  const auto v = Classify(config, ctx);
  for (const auto& s : v.scores()) {
    const int r = static_cast<int>(s.reason()) - 1;
    if (r < 0 || r >= kFitReasons) continue;
    EXPECT_NEAR(p[r], s.probability(), 1e-9) << s.reason();
  }
}

TEST(Fit, RecoversPlantedWeights) {
  // Examples drawn from a known model; fitting from zero finds it again.
  std::mt19937_64 random(3);
  std::normal_distribution<double> normal;
  FitModel planted;
  planted.priors = {0.5, 0.2, -0.1, -0.6};
  planted.weights = {1.5, -1.0, 0.8};
  std::vector<FitExample> examples;
  for (int i = 0; i < 6000; ++i) {
    FitExample e;
    e.x.assign(3, {});
    for (auto& row : e.x) {
      for (double& v : row) v = normal(random) > 0.5 ? normal(random) : 0;
    }
    const auto p = Predict(planted, e);
    std::discrete_distribution<int> pick(p.begin(), p.end());
    e.label = pick(random);
    examples.push_back(std::move(e));
  }
  FitModel start;
  start.weights.assign(3, 0);
  const FitModel fitted = Fit(examples, start, {.l2 = 0, .iterations = 600});
  for (size_t k = 0; k < 3; ++k) {
    EXPECT_NEAR(fitted.weights[k], planted.weights[k], 0.15) << k;
  }
  // Priors are identified up to a common shift.
  for (int r = 1; r < kFitReasons; ++r) {
    EXPECT_NEAR(fitted.priors[r] - fitted.priors[0],
                planted.priors[r] - planted.priors[0], 0.15)
        << r;
  }
  EXPECT_LT(Score(fitted, examples).log_loss, Score(start, examples).log_loss);
  EXPECT_LT(Score(fitted, examples).ece, 0.03);
}

TEST(Fit, TheFittedConfigLoadsWithItsWeights) {
  const ClassifierConfig config = Shipped();
  const auto names = FitWeightNames(config);
  FitModel m = ModelOf(config, names);
  m.weights[0] = 2.5;
  m.priors[3] = -1.25;
  auto json = FittedConfigJson(ShippedJson(), names, m, "v-fit");
  ASSERT_TRUE(json.ok()) << json.status();
  auto loaded = ParseClassifierConfig(*json);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->version, "v-fit");
  EXPECT_EQ(loaded->Get("weights." + names[0]), 2.5);
  EXPECT_EQ(loaded->priors.at(rebound::v1::DECLINE_REASON_CREDIBILITY_GUARD),
            -1.25);
  EXPECT_EQ(loaded->pitch_phrases, config.pitch_phrases);
  // A weight the loader refuses is not written.
  m.weights[0] = 1e6;
  EXPECT_FALSE(FittedConfigJson(ShippedJson(), names, m, "v").ok());
}

}  // namespace
}  // namespace rebound::scoring
