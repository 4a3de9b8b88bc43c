// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Burnable} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Burnable.sol";
import {ERC20Capped} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Capped.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";

/// @title InferToken
/// @notice INFER: the network's payment and staking token. ERC20 with EIP-2612 permit and a hard
///         supply cap. Supply comes from two places only: a genesis allocation minted once in the
///         constructor, and the emission contract (`minter`), wired once and never changeable.
/// @dev There is no minter role: an admin could grant a role to itself and mint up to the cap.
///      The admin (DEFAULT_ADMIN_ROLE, a timelock after deployment) can only wire the minter,
///      once; after that it holds no power over supply or balances.
contract InferToken is ERC20, ERC20Burnable, ERC20Capped, ERC20Permit, AccessControl {
    /// @notice The only address allowed to mint (the emission contract, RewardsEmitter); zero
    ///         until wired.
    address public minter;

    /// @notice The minter was wired (once, for good).
    /// @param minter The emission contract allowed to mint from now on.
    event MinterWired(address minter);

    /// @notice The minter is wired already, or the address given is zero.
    error InferTokenMinterWired(address minter);
    /// @notice Only the wired minter may mint.
    error InferTokenNotMinter(address caller);

    /// @param cap_ Largest total supply that can ever exist, in wei of INFER.
    /// @param admin Receives DEFAULT_ADMIN_ROLE (may wire the minter, once).
    /// @param genesisHolder Receives the genesis allocation (ignored when genesisSupply is 0).
    /// @param genesisSupply INFER minted to genesisHolder at deployment, in wei (may be 0; at most cap_).
    constructor(uint256 cap_, address admin, address genesisHolder, uint256 genesisSupply)
        ERC20("Infera", "INFER")
        ERC20Capped(cap_)
        ERC20Permit("Infera")
    {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        if (genesisSupply != 0) _mint(genesisHolder, genesisSupply);
    }

    /// @notice Wire the minter (the emission contract). Callable once; there is no way to change it.
    /// @param minter_ The RewardsEmitter.
    function wireMinter(address minter_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (minter != address(0) || minter_ == address(0)) revert InferTokenMinterWired(minter);
        minter = minter_;
        emit MinterWired(minter_);
    }

    /// @notice Mint `amount` INFER to `to`. Only the wired minter; reverts past the cap.
    /// @param to Recipient.
    /// @param amount Amount in wei of INFER.
    function mint(address to, uint256 amount) external {
        if (msg.sender != minter) revert InferTokenNotMinter(msg.sender);
        _mint(to, amount);
    }

    /// @dev Both ERC20 and ERC20Capped define _update; the cap check must run on every mint.
    function _update(address from, address to, uint256 value) internal override(ERC20, ERC20Capped) {
        super._update(from, to, value);
    }
}
