#include "control/admin/admin_protocol.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace isthmus {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

struct ParseCase {
  std::string description;
  std::string line;
  bool ok;
  std::string error_substring;  // when !ok
  std::string command;          // when ok
  std::vector<std::string> args;
};

class ParseAdminRequestTest : public ::testing::TestWithParam<ParseCase> {};

TEST_P(ParseAdminRequestTest, ParsesOrExplains) {
  const ParseCase& c = GetParam();
  absl::StatusOr<AdminRequest> request = ParseAdminRequest(c.line);
  ASSERT_EQ(request.ok(), c.ok) << request.status();
  if (!c.ok) {
    EXPECT_THAT(std::string(request.status().message()), HasSubstr(c.error_substring));
    return;
  }
  EXPECT_EQ(request->command, c.command);
  EXPECT_EQ(request->args, c.args);
  EXPECT_TRUE(request->raw.is_object());
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ParseAdminRequestTest,
    ::testing::Values(
        ParseCase{"show_ports", R"({"command":"show","args":["ports"]})", true, "", "show",
                  {"ports"}},
        ParseCase{"no_args", R"({"command":"reload"})", true, "", "reload", {}},
        ParseCase{"null_args", R"({"command":"reload","args":null})", true, "", "reload", {}},
        ParseCase{"extra_keys_kept", R"({"command":"show","args":["fib"],"limit":3})", true, "",
                  "show", {"fib"}},
        ParseCase{"not_json", "{command", false, "request is not valid JSON: ", "", {}},
        ParseCase{"empty_object", "{}", false, "non-empty string \"command\"", "", {}},
        ParseCase{"empty_command", R"({"command":""})", false, "non-empty string", "", {}},
        ParseCase{"numeric_command", R"({"command":7})", false, "string \"command\"", "", {}},
        ParseCase{"array_request", R"(["show","ports"])", false, "must be a JSON object", "", {}},
        ParseCase{"args_not_array", R"({"command":"show","args":"ports"})", false,
                  "\"args\" must be an array of strings", "", {}},
        ParseCase{"args_with_number", R"({"command":"show","args":["ports",1]})", false,
                  "found 1", "", {}},
        // nlohmann throws out_of_range, not parse_error, for a number beyond
        // double (found by tests/fuzz/admin_request_fuzz.cc).
        ParseCase{"number_out_of_range", R"({"command":"show","args":[1e999]})", false,
                  "request is not valid JSON: ", "", {}}),
    [](const ::testing::TestParamInfo<ParseCase>& info) { return info.param.description; });

TEST(AnswerAdminRequestLineTest, WrapsResultAndErrors) {
  const AdminHandler handler = [](const AdminRequest& r) -> absl::StatusOr<nlohmann::json> {
    if (r.command == "fail") return absl::FailedPreconditionError("line one\nline two");
    return nlohmann::json{{"echo", r.args}};
  };
  EXPECT_EQ(nlohmann::json::parse(AnswerAdminRequestLine(R"({"command":"x","args":["a"]})", handler)),
            (nlohmann::json{{"ok", true}, {"result", {{"echo", {"a"}}}}}));
  const nlohmann::json failed =
      nlohmann::json::parse(AnswerAdminRequestLine(R"({"command":"fail"})", handler));
  EXPECT_EQ(failed, (nlohmann::json{{"ok", false}, {"error", "line one\nline two"}}));
  const nlohmann::json malformed = nlohmann::json::parse(AnswerAdminRequestLine("nope", handler));
  EXPECT_EQ(malformed["ok"], false);
  EXPECT_THAT(malformed["error"].get<std::string>(), StartsWith("request is not valid JSON: "));
}

TEST(AnswerAdminRequestLineTest, HandlerExceptionCostsOneRequest) {
  const AdminHandler handler = [](const AdminRequest& r) -> absl::StatusOr<nlohmann::json> {
    return r.raw.at("missing");  // throws out_of_range
  };
  const nlohmann::json answer =
      nlohmann::json::parse(AnswerAdminRequestLine(R"({"command":"x"})", handler));
  EXPECT_EQ(answer["ok"], false);
  EXPECT_THAT(answer["error"].get<std::string>(), HasSubstr("command \"x\" failed"));
}

TEST(AnswerAdminRequestLineTest, AnswerIsOneLineEvenWithInvalidUtf8) {
  const AdminHandler handler = [](const AdminRequest&) -> absl::StatusOr<nlohmann::json> {
    return nlohmann::json{{"name", std::string("bad\xff\nname")}};
  };
  const std::string answer = AnswerAdminRequestLine(R"({"command":"x"})", handler);
  EXPECT_EQ(answer.find('\n'), std::string::npos);
  EXPECT_TRUE(nlohmann::json::accept(answer));
}

}  // namespace
}  // namespace isthmus
