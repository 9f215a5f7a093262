// Key files: mode checks, hex format, lengths, and no key bytes in errors.

#include "dataplane/ipsec/esp_key_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

namespace isthmus {
namespace {

// 16-byte key + 4-byte salt, and 32 + 4.
constexpr char kKey128Hex[] = "00112233445566778899aabbccddeeff" "c0ffee01";
constexpr char kKey256Hex[] = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f" "5a175a17";

class KeyFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/isthmus-keyfile-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    for (const std::string& f : files_) unlink(f.c_str());
    rmdir(dir_.c_str());
  }
  std::string Write(const std::string& name, const std::string& text, mode_t mode) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path) << text;
    chmod(path.c_str(), mode);
    files_.push_back(path);
    return path;
  }
  // The message must not carry the key material, whole or in pieces.
  static void ExpectNoKeyBytes(const absl::Status& st, const std::string& hex) {
    const std::string msg(st.message());
    for (size_t i = 0; i + 8 <= hex.size(); i += 4) {
      EXPECT_EQ(msg.find(hex.substr(i, 8)), std::string::npos) << msg;
    }
  }

  std::string dir_;
  std::vector<std::string> files_;
};

TEST_F(KeyFileTest, Mode0600Accepted) {
  const std::string path = Write("k", std::string(kKey128Hex) + "\n", 0600);
  absl::StatusOr<EspKey> key = LoadEspKeyFile(path, EspCipher::kAes128Gcm);
  ASSERT_TRUE(key.ok()) << key.status();
  ASSERT_EQ(key->key.size(), 16u);
  EXPECT_EQ(key->key[0], 0x00);
  EXPECT_EQ(key->key[15], 0xff);
  EXPECT_EQ(key->salt, (std::array<uint8_t, 4>{0xc0, 0xff, 0xee, 0x01}));
}

TEST_F(KeyFileTest, Mode0400AcceptedWithPrefixAndWhitespace) {
  const std::string text = std::string("  0x") + std::string(kKey256Hex).substr(0, 40) + "\n" +
                           std::string(kKey256Hex).substr(40) + " \n";
  const std::string path = Write("k", text, 0400);
  absl::StatusOr<EspKey> key = LoadEspKeyFile(path, EspCipher::kAes256Gcm);
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(key->key.size(), 32u);
  EXPECT_EQ(key->key[31], 0x1f);
  EXPECT_EQ(key->salt, (std::array<uint8_t, 4>{0x5a, 0x17, 0x5a, 0x17}));
}

TEST_F(KeyFileTest, GroupOrOtherAccessRefused) {
  for (mode_t mode : {0644, 0640, 0604, 0660, 0610, 0601}) {
    const std::string path = Write("k" + std::to_string(mode), kKey128Hex, mode);
    absl::StatusOr<EspKey> key = LoadEspKeyFile(path, EspCipher::kAes128Gcm);
    ASSERT_FALSE(key.ok()) << std::oct << mode;
    EXPECT_EQ(key.status().code(), absl::StatusCode::kPermissionDenied);
    char mode_text[8];
    std::snprintf(mode_text, sizeof(mode_text), "%04o", mode);
    const std::string msg(key.status().message());
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    EXPECT_NE(msg.find(mode_text), std::string::npos) << msg;
    EXPECT_NE(msg.find("0600"), std::string::npos) << msg;
    ExpectNoKeyBytes(key.status(), kKey128Hex);
  }
}

TEST_F(KeyFileTest, NotARegularFileRefused) {
  absl::StatusOr<EspKey> key = LoadEspKeyFile(dir_, EspCipher::kAes128Gcm);
  ASSERT_FALSE(key.ok());
  EXPECT_NE(key.status().message().find("not a regular file"), std::string::npos) << key.status();
  EXPECT_NE(key.status().message().find(dir_), std::string::npos) << key.status();
}

TEST_F(KeyFileTest, MissingFileNamed) {
  absl::StatusOr<EspKey> key = LoadEspKeyFile(dir_ + "/absent", EspCipher::kAes128Gcm);
  ASSERT_FALSE(key.ok());
  EXPECT_NE(key.status().message().find(dir_ + "/absent"), std::string::npos) << key.status();
}

TEST_F(KeyFileTest, WrongLengthRefusedWithoutKeyBytes) {
  // A 256-bit key file read as AES-128-GCM, a 128-bit one as AES-256-GCM,
  // a short one and an odd number of digits.
  struct Case {
    std::string text;
    EspCipher cipher;
  };
  const Case cases[] = {
      {kKey256Hex, EspCipher::kAes128Gcm},
      {kKey128Hex, EspCipher::kAes256Gcm},
      {std::string(kKey128Hex).substr(0, 38), EspCipher::kAes128Gcm},
      {std::string(kKey128Hex) + "a", EspCipher::kAes128Gcm},
  };
  int n = 0;
  for (const Case& c : cases) {
    const std::string path = Write("len" + std::to_string(n++), c.text, 0600);
    absl::StatusOr<EspKey> key = LoadEspKeyFile(path, c.cipher);
    ASSERT_FALSE(key.ok()) << c.text.size();
    const std::string msg(key.status().message());
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    EXPECT_NE(msg.find(c.cipher == EspCipher::kAes128Gcm ? "20 bytes" : "36 bytes"), std::string::npos) << msg;
    ExpectNoKeyBytes(key.status(), c.text);
  }
}

TEST_F(KeyFileTest, NonHexRefusedWithoutEchoingIt) {
  std::string text = kKey128Hex;
  text[10] = 'g';
  const std::string path = Write("nonhex", text, 0600);
  absl::StatusOr<EspKey> key = LoadEspKeyFile(path, EspCipher::kAes128Gcm);
  ASSERT_FALSE(key.ok());
  EXPECT_NE(key.status().message().find("offset 10"), std::string::npos) << key.status();
  ExpectNoKeyBytes(key.status(), text);
}

TEST(EspKeyTest, WipeClearsMaterial) {
  EspKey k;
  k.key = {1, 2, 3, 4};
  k.salt = {5, 6, 7, 8};
  k.Wipe();
  EXPECT_EQ(k.key, (std::vector<uint8_t>{0, 0, 0, 0}));
  EXPECT_EQ(k.salt, (std::array<uint8_t, 4>{0, 0, 0, 0}));
}

}  // namespace
}  // namespace isthmus
