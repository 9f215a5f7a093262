// `type: ipsec` tunnels: every knob, the key file checks made at load time
// (mode 0600/0400 only, length per cipher, never a key byte in a message),
// SPI range (RFC 4303 2.1), VXLAN inside ESP (`ipsec.vxlan`: VNI range and
// uniqueness across tunnels), and what a reload may change (rekey only).

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "control/config/config.h"
#include "tests/unit/config/config_test_support.h"

namespace isthmus {
namespace {

using config_testing::kSource;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kKey128[] = "00112233445566778899aabbccddeeff c0ffee01\n";
constexpr char kKey256[] = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff c0ffee01\n";

class IpsecTunnelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/isthmus-ipsec-config-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
    Write("out.key", kKey128, 0600);
    Write("in.key", kKey128, 0400);
    Write("wide.key", kKey128, 0644);
    Write("long.key", kKey256, 0600);
  }
  void TearDown() override {
    for (const char* f : {"out.key", "in.key", "wide.key", "long.key"}) unlink(Path(f).c_str());
    rmdir(dir_.c_str());
  }
  std::string Path(const std::string& f) const { return absl::StrCat(dir_, "/", f); }
  void Write(const std::string& f, const char* text, mode_t mode) {
    std::ofstream(Path(f)) << text;
    ASSERT_EQ(chmod(Path(f).c_str(), mode), 0);
  }
  // A full ipsec tunnel; `ipsec_extra` lines go inside the ipsec block.
  std::string Yaml(const std::string& ipsec_extra = "", const std::string& out_key = "out.key",
                   const std::string& out_spi = "4097") const {
    return absl::StrCat("ports:\n  - {name: p0, interface: veth0}\n",
                        "tunnels:\n"
                        "  - name: east\n"
                        "    type: ipsec\n"
                        "    local: 192.0.2.1\n"
                        "    remote: 192.0.2.2\n"
                        "    overlay: 198.18.250.1/30\n"
                        "    ipsec:\n",
                        ipsec_extra,
                        "      outbound: {spi: ", out_spi, ", key_file: ", Path(out_key), "}\n",
                        "      inbound:\n"
                        "        - {spi: 8193, key_file: ", Path("in.key"), "}\n");
  }
  std::string dir_;
};

TEST_F(IpsecTunnelTest, DefaultsAreFilledIn) {
  const auto config = LoadConfigText(Yaml(), kSource);
  ASSERT_TRUE(config.ok()) << config.status();
  const TunnelConfig& t = config->tunnels[0];
  EXPECT_EQ(t.type, TunnelType::kIpsec);
  ASSERT_TRUE(t.ipsec.has_value());
  EXPECT_EQ(t.ipsec->cipher, IpsecCipher::kAes128Gcm);
  EXPECT_TRUE(t.ipsec->esn);
  EXPECT_EQ(t.ipsec->replay_window, 1024u);
  EXPECT_FALSE(t.ipsec->udp_encap);
  EXPECT_EQ(t.ipsec->outbound, (IpsecSaConfig{4097, Path("out.key")}));
  ASSERT_EQ(t.ipsec->inbound.size(), 1u);
  EXPECT_EQ(t.ipsec->inbound[0], (IpsecSaConfig{8193, Path("in.key")}));
  EXPECT_EQ(t.ipsec->lifetime_packets, 0u);
}

TEST_F(IpsecTunnelTest, EveryKnob) {
  const auto config = LoadConfigText(Yaml("      cipher: aes-256-gcm\n"
                                          "      esn: false\n"
                                          "      replay_window: 4096\n"
                                          "      udp_encap: true\n"
                                          "      lifetime: {packets: 1000000, bytes: 10000000000000, seconds: 3600}\n",
                                          "long.key"),
                                     kSource);
  // in.key is a 128-bit key: refused for aes-256-gcm, checked below; here
  // the inbound key is swapped for the long one.
  ASSERT_FALSE(config.ok());
  const auto ok = LoadConfigText(absl::StrReplaceAll(Yaml("      cipher: aes-256-gcm\n"
                                                          "      esn: false\n"
                                                          "      replay_window: 4096\n"
                                                          "      udp_encap: true\n"
                                                          "      lifetime: {packets: 1000000, bytes: 10000000000000, "
                                                          "seconds: 3600}\n",
                                                          "long.key"),
                                                     {{Path("in.key"), Path("long.key")}}),
                                 kSource);
  ASSERT_TRUE(ok.ok()) << ok.status();
  const IpsecConfig& c = *ok->tunnels[0].ipsec;
  EXPECT_EQ(c.cipher, IpsecCipher::kAes256Gcm);
  EXPECT_FALSE(c.esn);
  EXPECT_EQ(c.replay_window, 4096u);
  EXPECT_TRUE(c.udp_encap);
  EXPECT_EQ(c.lifetime_packets, 1000000u);
  EXPECT_EQ(c.lifetime_bytes, 10000000000000u);
  EXPECT_EQ(c.lifetime_seconds, 3600u);
}

struct Bad {
  std::string description;
  std::string extra;     // inside the ipsec block
  std::string out_key;
  std::string out_spi;
  std::string expected;  // substring of the error
};

TEST_F(IpsecTunnelTest, RefusedWithKeyAndAccepted) {
  const std::vector<Bad> cases = {
      {"key file readable by others", "", "wide.key", "4097", "mode 0644"},
      {"key of the wrong length for the cipher", "", "long.key", "4097", "tunnels[0].ipsec.outbound.key_file"},
      {"missing key file", "", "absent.key", "4097", "tunnels[0].ipsec.outbound.key_file"},
      {"spi 0", "", "out.key", "0", "test.yaml:10: tunnels[0].ipsec.outbound.spi: '0' is not a usable SPI (accepted: an SPI 256-"},
      {"reserved spi 255", "", "out.key", "255", "'255' is not a usable SPI"},
      {"spi beyond 32 bits", "", "out.key", "4294967296", "is not a usable SPI"},
      {"unknown cipher", "      cipher: aes-128-cbc\n", "out.key", "4097",
       "tunnels[0].ipsec.cipher: unknown value 'aes-128-cbc' (accepted: aes-128-gcm, aes-256-gcm)"},
      {"window not a power of two", "      replay_window: 1000\n", "out.key", "4097", "1000 is not a power of two"},
      {"window too small", "      replay_window: 16\n", "out.key", "4097", "tunnels[0].ipsec.replay_window"},
      {"vxlan vni 0", "      vxlan: {vni: 0}\n", "out.key", "4097", "tunnels[0].ipsec.vxlan.vni: "},
      {"vxlan vni beyond 24 bits", "      vxlan: {vni: 16777216}\n", "out.key", "4097",
       "tunnels[0].ipsec.vxlan.vni: "},
      {"vxlan without vni", "      vxlan: {dst_port: 4789}\n", "out.key", "4097",
       "tunnels[0].ipsec.vxlan.vni: missing required key (accepted: a VNI 1-16777215)"},
      {"vxlan port 0", "      vxlan: {vni: 7, dst_port: 0}\n", "out.key", "4097", "tunnels[0].ipsec.vxlan.dst_port: "},
      {"vxlan unknown key", "      vxlan: {vni: 7, flags: 8}\n", "out.key", "4097", "tunnels[0].ipsec.vxlan.flags"},
      {"vxlan not a map", "      vxlan: 7\n", "out.key", "4097", "tunnels[0].ipsec.vxlan"},
      {"unknown key", "      pfs: true\n", "out.key", "4097", "tunnels[0].ipsec.pfs"},
  };
  for (const Bad& c : cases) {
    SCOPED_TRACE(c.description);
    const auto config = LoadConfigText(Yaml(c.extra, c.out_key, c.out_spi), kSource);
    ASSERT_FALSE(config.ok());
    EXPECT_THAT(std::string(config.status().message()), HasSubstr(c.expected));
    // Never a key byte in an error.
    EXPECT_THAT(config.status().message(), Not(HasSubstr("00112233")));
  }
}

TEST_F(IpsecTunnelTest, PlainEspCarriesNoVxlan) {
  const auto config = LoadConfigText(Yaml(), kSource);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->tunnels[0].vni, 0u) << "VNI 0: the ESP inner packet is the routed IPv4 packet";
}

TEST_F(IpsecTunnelTest, VxlanInsideEspKeepsVniAndPort) {
  auto config = LoadConfigText(Yaml("      vxlan: {vni: 16777215}\n"), kSource);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->tunnels[0].vni, 16777215u);
  EXPECT_EQ(config->tunnels[0].dst_port, 4789) << "IANA VXLAN port by default";
  config = LoadConfigText(Yaml("      vxlan: {vni: 1, dst_port: 8472}\n"), kSource);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->tunnels[0].vni, 1u);
  EXPECT_EQ(config->tunnels[0].dst_port, 8472);
}

TEST_F(IpsecTunnelTest, TopLevelVniPointsAtIpsecVxlan) {
  std::string yaml = Yaml();
  yaml.replace(yaml.find("    ipsec:"), 0, "    dst_port: 4789\n");
  const auto config = LoadConfigText(yaml, kSource);
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(config.status().message(), HasSubstr("tunnels[0].dst_port: applies to type vxlan only"));
  EXPECT_THAT(config.status().message(), HasSubstr("ipsec.vxlan: {vni, dst_port}"));
}

// A VNI names one overlay segment whether it travels bare or inside ESP.
TEST_F(IpsecTunnelTest, VxlanInsideEspVniIsUniqueAcrossTunnels) {
  const std::string vxlan_tunnel =
      "  - {name: west, type: vxlan, local: 192.0.2.1, remote: 192.0.2.3, vni: 7, overlay: 198.18.251.1/30}\n";
  auto config = LoadConfigText(Yaml("      vxlan: {vni: 7}\n") + vxlan_tunnel, kSource);
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(std::string(config.status().message()),
              HasSubstr("tunnels[1].vni: '7' is already used by tunnels[0].ipsec.vxlan.vni (accepted: a VNI not used "
                        "elsewhere)"));
  config = LoadConfigText(Yaml("      vxlan: {vni: 8}\n") + vxlan_tunnel, kSource);
  EXPECT_TRUE(config.ok()) << config.status();

  // Two ipsec tunnels with the same VNI inside.
  std::string second = Yaml("      vxlan: {vni: 9}\n");
  second = second.substr(second.find("  - name: east"));
  second = absl::StrReplaceAll(second, {{"name: east", "name: north"},
                                        {"remote: 192.0.2.2", "remote: 192.0.2.4"},
                                        {"198.18.250.1/30", "198.18.252.1/30"},
                                        {"spi: 8193", "spi: 8195"}});
  config = LoadConfigText(Yaml("      vxlan: {vni: 9}\n") + second, kSource);
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(std::string(config.status().message()),
              HasSubstr("tunnels[1].ipsec.vxlan.vni: '9' is already used by tunnels[0].ipsec.vxlan.vni"));
}

TEST_F(IpsecTunnelTest, KeyFileMode0644IsRefusedWithFileAndLine) {
  const auto config = LoadConfigText(Yaml("", "wide.key"), kSource);
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(std::string(config.status().message()), HasSubstr("test.yaml:10: tunnels[0].ipsec.outbound.key_file: "));
  EXPECT_THAT(config.status().message(), HasSubstr("(accepted: an absolute path to a regular file of mode 0600"));
}

TEST_F(IpsecTunnelTest, KeysOfTheOtherTypeAreRefused) {
  std::string yaml = Yaml();
  yaml.replace(yaml.find("    ipsec:"), 0, "    vni: 7\n");
  const auto config = LoadConfigText(yaml, kSource);
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(config.status().message(), HasSubstr("tunnels[0].vni: applies to type vxlan only"));
}

TEST_F(IpsecTunnelTest, InboundSpisAreUniqueAndBounded) {
  std::string yaml = Yaml();
  const std::string line = absl::StrCat("        - {spi: 8193, key_file: ", Path("in.key"), "}\n");
  yaml += line;
  auto config = LoadConfigText(yaml, kSource);
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(config.status().message(), HasSubstr("an inbound SPI"));
  yaml = Yaml();
  for (int spi = 8194; spi < 8198; ++spi) yaml += absl::StrCat("        - {spi: ", spi, ", key_file: ", Path("in.key"), "}\n");
  config = LoadConfigText(yaml, kSource);
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(config.status().message(), HasSubstr("lists 5 SAs"));
}

TEST_F(IpsecTunnelTest, RelativeKeyPathIsRefused) {
  std::string yaml = Yaml();
  yaml.replace(yaml.find(Path("out.key")), Path("out.key").size(), "out.key");
  const auto config = LoadConfigText(yaml, kSource);
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(config.status().message(), HasSubstr("'out.key' is not an absolute path"));
}

TEST_F(IpsecTunnelTest, ReloadMayRekeyButNotChangeTheCipher) {
  const std::string base = Yaml();
  const std::string in_key = Path("in.key");
  const std::vector<config_testing::ReloadCase> cases = {
      {"new outbound SA", [](Config& c) { c.tunnels[0].ipsec->outbound.spi = 4098; }, {}},
      {"second inbound SA", [in_key](Config& c) { c.tunnels[0].ipsec->inbound.push_back({8194, in_key}); }, {}},
      {"mss_clamp", [](Config& c) { c.tunnels[0].mss_clamp = {MssClampConfig::Mode::kAuto, 0}; }, {}},
      {"cipher", [](Config& c) { c.tunnels[0].ipsec->cipher = IpsecCipher::kAes256Gcm; }, {"tunnels"}},
      {"esn", [](Config& c) { c.tunnels[0].ipsec->esn = false; }, {"tunnels"}},
      {"udp_encap", [](Config& c) { c.tunnels[0].ipsec->udp_encap = true; }, {"tunnels"}},
      {"df (fixed in the SA)", [](Config& c) { c.tunnels[0].df = TunnelDf::kClear; }, {"tunnels"}},
      {"vxlan inside esp (another inner packet format)", [](Config& c) { c.tunnels[0].vni = 7; }, {"tunnels"}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.description);
    config_testing::ExpectReloadOutcome(base.c_str(), kSource, c);
  }
}

}  // namespace
}  // namespace isthmus
