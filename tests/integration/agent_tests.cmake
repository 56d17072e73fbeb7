# synwarden-agent's own tests (owned with agent/ and bpf/host/), included once by
# tests/CMakeLists.txt; each is built only when its tier is (synwarden_add_test). Need root.

# bpf tier: the host tc program on crafted ACKs through BPF_PROG_TEST_RUN, checked against the
# firewall engine.
synwarden_add_test(agent_bpf_cookie_test TIER bpf GTEST
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/agent_bpf_cookie_test.cpp
  LIBS synwarden_agent_lib
  PROPERTIES RUN_SERIAL TRUE)

# integration tier: the real synwarden-agent in bpf mode on a "host" namespace, a test-side
# firewall answering SYNs with the engine and the secrets it polls from the agent, and real
# Linux TCP connections from a "client" namespace.
synwarden_add_test(agent_e2e_test TIER integration GTEST
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/agent_e2e_test.cpp
          ${CMAKE_CURRENT_LIST_DIR}/agent_test_net.cpp
          ${CMAKE_CURRENT_LIST_DIR}/agent_test_responder.cpp
  INCLUDES ${CMAKE_CURRENT_LIST_DIR}
  LIBS synwarden_core
  DEFINES SYNWARDEN_AGENT_BINARY="$<TARGET_FILE:synwarden-agent>"
  DEPENDS synwarden-agent
  PROPERTIES RUN_SERIAL TRUE)

# integration tier: the agent's socket-table lookup (socket confirmation) against real TCP
# sockets in a namespace of its own.
synwarden_add_test(agent_socket_table_test TIER integration GTEST
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/agent_socket_table_test.cpp
          ${CMAKE_CURRENT_LIST_DIR}/agent_test_net.cpp
  INCLUDES ${CMAKE_CURRENT_LIST_DIR}
  LIBS synwarden_agent_lib
  PROPERTIES RUN_SERIAL TRUE)
