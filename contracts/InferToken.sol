// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Burnable} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Burnable.sol";
import {ERC20Capped} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Capped.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";

/// @title InferToken
/// @notice INFER: the network's payment and staking token. ERC20 with EIP-2612 permit, a hard
///         supply cap, and minting restricted to holders of MINTER_ROLE (the deployer for the
///         devnet faucet, the emission contract on a real network).
contract InferToken is ERC20, ERC20Burnable, ERC20Capped, ERC20Permit, AccessControl {
    /// @notice Role allowed to mint, up to the cap.
    bytes32 public constant MINTER_ROLE = keccak256("MINTER_ROLE");

    /// @param cap_ Largest total supply that can ever exist, in wei of INFER.
    /// @param admin Receives DEFAULT_ADMIN_ROLE (grants and revokes MINTER_ROLE).
    constructor(uint256 cap_, address admin) ERC20("Infera", "INFER") ERC20Capped(cap_) ERC20Permit("Infera") {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    /// @notice Mint `amount` INFER to `to`. Reverts past the cap.
    /// @param to Recipient.
    /// @param amount Amount in wei of INFER.
    function mint(address to, uint256 amount) external onlyRole(MINTER_ROLE) {
        _mint(to, amount);
    }

    /// @dev Both ERC20 and ERC20Capped define _update; the cap check must run on every mint.
    function _update(address from, address to, uint256 value) internal override(ERC20, ERC20Capped) {
        super._update(from, to, value);
    }
}
