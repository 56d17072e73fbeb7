# synwarden-agent's own tests (owned with agent/ and bpf/host/). Included by
# tests/integration/CMakeLists.txt; agent/CMakeLists.txt includes it at the end of configuration
# when nothing else did, so the targets exist exactly once either way. Needs root to run.
include(GoogleTest)

# bpf tier: the host tc program on crafted ACKs through BPF_PROG_TEST_RUN, checked against the
# firewall engine.
add_executable(agent_bpf_cookie_test ${CMAKE_CURRENT_LIST_DIR}/agent_bpf_cookie_test.cpp)
target_compile_options(agent_bpf_cookie_test PRIVATE ${SYNWARDEN_WARNINGS})
target_link_libraries(agent_bpf_cookie_test PRIVATE synwarden_agent_lib GTest::gtest_main Threads::Threads)
gtest_discover_tests(agent_bpf_cookie_test PROPERTIES LABELS bpf RUN_SERIAL TRUE DISCOVERY_TIMEOUT 60)

# integration tier: the real synwarden-agent in bpf mode on a "host" namespace, a test-side
# firewall answering SYNs with the engine and the secrets it polls from the agent, and real
# Linux TCP connections from a "client" namespace.
add_executable(agent_e2e_test
  ${CMAKE_CURRENT_LIST_DIR}/agent_e2e_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/agent_test_net.cpp
  ${CMAKE_CURRENT_LIST_DIR}/agent_test_responder.cpp)
target_compile_options(agent_e2e_test PRIVATE ${SYNWARDEN_WARNINGS})
target_include_directories(agent_e2e_test PRIVATE ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(agent_e2e_test PRIVATE synwarden_core GTest::gtest_main Threads::Threads)
target_compile_definitions(agent_e2e_test PRIVATE
  SYNWARDEN_AGENT_BINARY="$<TARGET_FILE:synwarden-agent>")
add_dependencies(agent_e2e_test synwarden-agent)
gtest_discover_tests(agent_e2e_test PROPERTIES LABELS integration RUN_SERIAL TRUE DISCOVERY_TIMEOUT 60)
