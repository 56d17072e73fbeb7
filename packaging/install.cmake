# What `cmake --install` (and so the Debian packages) put where. The default configs hold no
# secrets (keys live in separate 0600 files), so they get the ordinary 0644.
include(GNUInstallDirs)
install(TARGETS synwarden synwarden-agent RUNTIME DESTINATION ${CMAKE_INSTALL_SBINDIR})
install(TARGETS synwardenctl RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES ${PROJECT_SOURCE_DIR}/packaging/etc/synwarden.json
              ${PROJECT_SOURCE_DIR}/packaging/etc/agent.json
        DESTINATION ${CMAKE_INSTALL_SYSCONFDIR}/synwarden)
