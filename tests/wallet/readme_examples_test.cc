// The README's "What to run next" commands run as written (issue 20): scripts/readme-examples, the
// script scripts/devnet runs at the end of its demo, here against a real node in this process
// whose chain holds what the README's commands name (keys alice, bob and ev-owner-1, zone CN-SH,
// pool 1, events 1 and 2, program 3), made in the devnet's order. What it does not reproduce is the
// devnet's history (cleared markets, ev-owner-1's car and its trades): `market results` and
// `earnings` run their empty paths here; scripts/devnet runs the same script after its demo. The script runs each line as written, with two
// substitutions it is told of: the built v2g for build-release/cli/v2g and this node's URL for
// the devnet's http://127.0.0.1:26657. A README line that names something the devnet does not
// have, or a command whose output or flags changed under it, fails here, in the default test run.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "tests/wallet/cli_node_fixture.h"

namespace v2g::nodetest {
namespace {

// As the devnet: carol is the grid company of CN-SH, alice aggregates, times are China's.
void DevnetLike(GenesisState& g) {
  EnableMarket(g);
  g.params.utc_offset_min = 8 * 60;
  g.zones.push_back({"CN-SH", AddrOf(Key(12))});
  g.roles.push_back({"grid_company", AddrOf(Key(12))});
  g.roles.push_back({"aggregator", AddrOf(Key(10))});
}

class ReadmeExamplesTest : public CliNodeTest {
 protected:
  ReadmeExamplesTest() : CliNodeTest(DevnetLike, "readme-examples-test") {}

  void SetUp() override {
    // The README's lines pipe into jq and call curl (scripts/bootstrap installs both).
    for (const char* tool : {"/usr/bin/jq", "/usr/bin/curl"}) {
      ASSERT_EQ(::access(tool, X_OK), 0) << tool << " is missing: the README's examples use it (scripts/bootstrap)";
    }
    CliNodeTest::SetUp();
    ASSERT_FALSE(HasFatalFailure());
    Keystore ks(home(), KdfLimits::Min());
    ASSERT_TRUE(ks.Import("ev-owner-1", HexEncode(Bytes(kSeedBytes, 20)), kPassphrase).ok());
    // The devnet's order of creation (scripts/devnet grid_cycle): pool 1 'depot-vpp', events 1
    // (reverse discharge) and 2 (peak relief), then programs 3 (discharge subsidy) and 4 (reward
    // points): ids are shared by events and programs.
    Ok({"send", "carol", "100", "CNY", "--from", "alice"});
    Ok({"send", "issuer", "50", "CNY", "--from", "alice"});
    Ok({"send", "ev-owner-1", "10", "CNY", "--from", "alice"});
    Ok({"pool", "create", "--from", "alice", "--name", "depot-vpp", "--fee-percent", "10"});
    for (const char* kind : {"reverse_discharge", "peak_relief"}) {
      Ok({"event", "create", "--from", "carol", "--kind", kind, "--zone", "CN-SH", "--start", "next+1", "--end",
          "next+2", "--target-kw", "50", "--price", "1.50", "--budget", "20", "--deadline", "next"});
    }
    Ok({"program", "create", "--from", "issuer", "--kind", "discharge_subsidy", "--rate", "0.20", "--zone", "CN-SH",
        "--budget", "5", "--end", "next+8"});
    Ok({"mint", "issuer", "500", "PTS", "--from", "issuer"});
    Ok({"program", "create", "--from", "issuer", "--kind", "reward_points", "--denom", "PTS", "--rate", "100",
        "--zone", "CN-SH", "--budget", "300", "--end", "next+8"});
  }
  void Ok(const std::vector<std::string>& args) {
    test::CliResult r = Run(args);
    ASSERT_EQ(r.exit_code, 0) << ::testing::PrintToString(args) << "\n" << r.err << r.out;
  }
  test::CliResult RunExamples(const std::string& readme) {
    return test::RunProgram(V2G_SOURCE_DIR "/scripts/readme-examples", {},
                            {"HOME=" + tmp_.path(), "V2G_HOME=" + home(), "V2G_NODE=" + url(),
                             std::string("V2G_PASSPHRASE=") + kPassphrase, "V2G_README=" + readme,
                             std::string("V2G_README_CLI=") + V2G_CLI_PATH, "V2G_README_API=" + url()},
                            tmp_.path());
  }
};

TEST_F(ReadmeExamplesTest, EveryCommandRunsAsWritten) {
  const std::string readme = V2G_SOURCE_DIR "/README.md";
  test::CliResult r = RunExamples(readme);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  // Every line of the README's block ran.
  std::ifstream in(readme);
  std::stringstream text;
  text << in.rdbuf();
  const std::string block = text.str().substr(text.str().find("## What to run next"));
  const size_t begin = block.find("```sh\n") + 6;
  // Its command lines: the script skips blank ones.
  std::istringstream code(block.substr(begin, block.find("```", begin) - begin));
  size_t lines = 0;
  for (std::string line; std::getline(code, line);) {
    if (line.find_first_not_of(" \t") != std::string::npos) ++lines;
  }
  ASSERT_GE(lines, 10u);
  EXPECT_TRUE(Contains(r.out, "readme-examples: all " + std::to_string(lines) + " commands")) << r.out;
  // What the README promises of them: yuan in human units, the send's tx shown to its signer.
  EXPECT_TRUE(Contains(r.out, "CNY")) << r.out;
  EXPECT_TRUE(Contains(r.out, "pool             1 'depot-vpp'")) << r.out;
  EXPECT_TRUE(Contains(r.out, "program    3 (discharge_subsidy)")) << r.out;
}

// The script is not a check that cannot fail: a README line naming what the chain lacks fails it,
// and so does a flag the CLI does not have.
TEST_F(ReadmeExamplesTest, AnExampleThatFailsFailsTheScript) {
  for (const std::string line : {"build-release/cli/v2g program show 9", "build-release/cli/v2g balance alice --zome x"}) {
    const std::string readme = tmp_.path() + "/README.md";
    std::ofstream(readme) << "# x\n\n## What to run next\n\n```sh\nbuild-release/cli/v2g status\n" << line
                          << "\n```\n";
    test::CliResult r = RunExamples(readme);
    EXPECT_EQ(r.exit_code, 1) << line << "\n" << r.out;
    EXPECT_TRUE(Contains(r.err, "readme-examples: FAILED: " + std::string(V2G_CLI_PATH))) << r.err;
  }
}

}  // namespace
}  // namespace v2g::nodetest
